#!/bin/bash
# prefix-log.sh NAME COMMAND [ARG...]: runs COMMAND with stdout and stderr prefixed "[NAME] ".
# COMMAND replaces this shell (exec), so supervisord's pid IS the command: `supervisorctl signal
# KILL worker1` kills fox itself. The sed filter runs beside it and ends when its output closes.
NAME="$1"
shift
exec "$@" > >(exec sed -u "s/^/[$NAME] /") 2>&1
