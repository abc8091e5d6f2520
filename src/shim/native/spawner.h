// The shim spawner (spawner.c): `fleetd-shim --spawner` runs it instead of a shim.
#ifndef FLEETD_SPAWNER_H
#define FLEETD_SPAWNER_H
/** Serves fleetd's spawn requests on stdin/stdout until stdin ends; the process's exit code. */
int fleetd_spawner_main(void);
#endif
