#!/bin/sh
# The image's entrypoint.
#
# 1. Every container starts from an empty Prometheus multiprocess directory: the files of a previous
#    run's processes would otherwise be added to this run's counters (and a restarted container keeps
#    its /tmp). prometheus_client reads only its *.db files, so only those are removed.
# 2. A single argument naming a Procfile process (web, ws, worker, beat) runs that process' line of the
#    Procfile, so the commands live in one place for `make serve` and the image alike. The line is
#    exec'd by the shell (each line is one command), so the server is this container's main process
#    and receives its signals itself: granian, uvicorn and Celery stop gracefully on SIGTERM.
#    Anything else (python manage.py migrate, sh) runs as given.
set -eu

if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -maxdepth 1 -name '*.db' -exec rm -f {} +
fi

if [ "$#" -eq 1 ]; then
    procfile="$(dirname "$0")/../Procfile"
    line=$(awk -v name="$1" '
        substr($0, 1, length(name) + 1) == name ":" {
            line = substr($0, length(name) + 2)
            sub(/^[ \t]+/, "", line)
            print line
            exit
        }
    ' "$procfile")
    if [ -n "$line" ]; then
        exec /bin/sh -c "exec $line"
    fi
fi

exec "$@"
