#!/usr/bin/env bash
# The action's main step: turn the inputs (environment variables, set by action.yml) into the
# arguments of `git ml ci`. Nothing here is logic: that lives in the binary, where it is tested.
set -euo pipefail
args=(ci "${GITML_MODE:-auto}" --provider github)
[ -n "${GITML_TARGETS:-}" ] && args+=(--targets "$GITML_TARGETS")
[ -n "${GITML_MODEL:-}" ] && args+=(--model "$GITML_MODEL")
[ -n "${GITML_PROMOTE_TO:-}" ] && args+=(--promote-to "$GITML_PROMOTE_TO")
[ -n "${GITML_REMOTE:-}" ] && args+=(--remote "$GITML_REMOTE")
case "${GITML_COMMENT:-true}" in true|false) args+=(--comment "$GITML_COMMENT") ;; *) echo "error: input comment must be true or false" >&2; exit 2 ;; esac
case "${GITML_FAIL_ON_GATE:-true}" in true|false) args+=(--fail-on-gate "$GITML_FAIL_ON_GATE") ;; *) echo "error: input fail-on-gate must be true or false" >&2; exit 2 ;; esac
case "${GITML_FORCE:-false}" in true) args+=(--force) ;; false) ;; *) echo "error: input force must be true or false" >&2; exit 2 ;; esac
[ -n "${GITML_REPORT:-}" ] && args+=(--report "$GITML_REPORT")
exec git-ml "${args[@]}"
