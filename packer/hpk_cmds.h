/*
 * hpk_cmds.h - the commands besides build: inspection (inspect.c, diffx.c),
 * images (image.c) and the system store (store.c).
 */
#ifndef HPK_CMDS_H
#define HPK_CMDS_H

int hpk_cmd_inspect(int argc, char **argv);
int hpk_cmd_hash(int argc, char **argv);
int hpk_cmd_verify(int argc, char **argv);
int hpk_cmd_diff(int argc, char **argv);
int hpk_cmd_extract(int argc, char **argv);
/* image.c */
int hpk_cmd_image(int argc, char **argv);
/* store.c */
int hpk_cmd_install(int argc, char **argv);
int hpk_cmd_uninstall(int argc, char **argv);
int hpk_cmd_store(int argc, char **argv);

#endif
