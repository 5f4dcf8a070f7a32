/*
 * hpk_cmds.h - the commands besides build, one file each: inspect.c,
 * hash.c, verify.c, diffx.c (diff, extract), image.c and store.c (install,
 * uninstall, store).
 */
#ifndef HPK_CMDS_H
#define HPK_CMDS_H

int hpk_cmd_inspect(int argc, char **argv);
/* hash.c */
int hpk_cmd_hash(int argc, char **argv);
/* verify.c */
int hpk_cmd_verify(int argc, char **argv);
/* diffx.c */
int hpk_cmd_diff(int argc, char **argv);
int hpk_cmd_extract(int argc, char **argv);
/* image.c */
int hpk_cmd_image(int argc, char **argv);
/* store.c */
int hpk_cmd_install(int argc, char **argv);
int hpk_cmd_uninstall(int argc, char **argv);
int hpk_cmd_store(int argc, char **argv);

#endif
