#!/bin/sh
# planworker's container entrypoint: migrate the database, import a seed plan into an empty
# one, then run the command given (default: planworker run).
#
# Everything comes from the environment, as for planworker itself (PLANWORKER_DATABASE_URL,
# PLANWORKER_CONFIG, ...), so this also runs outside a container:
#
#   PLANWORKER_SEED_FILE=seed/cbc-action-plan-2012-13.yaml sh docker/entrypoint.sh planworker plan show
#
# PLANWORKER_SEED_FILE (optional): a plan file (seed YAML, CSV or XLSX) imported when the
# database holds no plan yet. A database that already holds one is left alone, so restarts
# never undo later imports or edits. It is not a planworker setting, and planworker refuses
# PLANWORKER_* variables it does not know, so it is removed from the environment here.
set -eu

seed_file=${PLANWORKER_SEED_FILE-}
unset PLANWORKER_SEED_FILE

if [ "$#" -eq 0 ]; then
    set -- planworker run
fi

say() {
    printf 'entrypoint: %s\n' "$*" >&2
}

# What this script runs reports on standard error, so that the command's standard output
# stays its own (docker run --rm planworker planworker plan export > plan.yaml).

# Create or migrate the schema; a failure (bad settings, database unreachable) stops here.
planworker db upgrade >&2

if [ -n "$seed_file" ]; then
    # `plan show` exits 0 when there is one plan, 1 with a message otherwise. Import only when
    # the message says the database holds none (also when PLANWORKER_PLAN names a plan that is
    # not there and there are none); several plans, or any other problem, import nothing.
    if problem=$(planworker plan show 2>&1 >/dev/null); then
        say "the database already holds a plan: $seed_file not imported"
    else
        case $problem in
            *"no plan in the database yet"* | *"plans in the database: none"*)
                say "the database holds no plan: importing $seed_file"
                planworker plan import "$seed_file" >&2
                ;;
            *)
                say "$seed_file not imported: cannot tell whether the database holds a plan:"
                printf '%s\n' "$problem" >&2
                ;;
        esac
    fi
fi

exec "$@"
