#!/bin/sh
# Liveness check for the Celery worker and beat without `celery inspect` (no broker round trip).
#
#   twinrx-heartbeat-probe FILE MAX_AGE_SECONDS
#
# The process touches FILE while its main loop is healthy (worker: a consumer-timer bootstep every
# 30 s; beat: every scheduler tick). Exit 0 when FILE exists and was modified at most MAX_AGE_SECONDS
# ago, 1 when it is stale or missing, 2 on a usage error. Uses only POSIX sh, date and stat (coreutils).
set -u

if [ "$#" -ne 2 ]; then
    echo "usage: twinrx-heartbeat-probe FILE MAX_AGE_SECONDS" >&2
    exit 2
fi
file=$1
max_age=$2
case $max_age in
    '' | *[!0-9]*)
        echo "twinrx-heartbeat-probe: MAX_AGE_SECONDS must be a whole number, got '$max_age'" >&2
        exit 2
        ;;
esac

if ! modified=$(stat -c %Y -- "$file" 2>/dev/null); then
    echo "twinrx-heartbeat-probe: no heartbeat at $file" >&2
    exit 1
fi
now=$(date +%s)
age=$((now - modified))
if [ "$age" -gt "$max_age" ]; then
    echo "twinrx-heartbeat-probe: heartbeat $file is ${age}s old (limit ${max_age}s)" >&2
    exit 1
fi
exit 0
