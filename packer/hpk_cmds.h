/*
 * hpk_cmds.h - the inspection commands (inspect.c): inspect, hash, verify,
 * diff, extract.
 */
#ifndef HPK_CMDS_H
#define HPK_CMDS_H

int hpk_cmd_inspect(int argc, char **argv);
int hpk_cmd_hash(int argc, char **argv);
int hpk_cmd_verify(int argc, char **argv);
int hpk_cmd_diff(int argc, char **argv);
int hpk_cmd_extract(int argc, char **argv);

#endif
