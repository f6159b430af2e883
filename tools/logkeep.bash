# SPDX-License-Identifier: MIT
# bash completion for logkeep: the commands, each command's options (and
# its subcommands), the values some options take, and files otherwise.
# Installed as share/bash-completion/completions/logkeep.
# shellcheck shell=bash

_logkeep()
{
	local cur prev cmd opts
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}

	if [ "$COMP_CWORD" -eq 1 ]; then
		opts="put get del load scan verify dump repair stats backup
		      compact snapshot node policy cache history ledger
		      import-sqlite demo help --help --version"
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return
	fi
	cmd=${COMP_WORDS[1]}

	case $prev in
	--type)
		mapfile -t COMPREPLY < <(compgen -W "segment put del commit
			seal damage discard free" -- "$cur")
		return ;;
	--sync)
		mapfile -t COMPREPLY < <(compgen -W "always interval none" \
			-- "$cur")
		return ;;
	-n|--namespace)
		mapfile -t COMPREPLY < <(compgen -W "default mesh.nodes
			mesh.policies mesh.cache mesh.ledger mesh.telemetry" \
			-- "$cur")
		return ;;
	--segment|--from-seq|--to-seq|--batch|--segment-size|--memory-bytes|--ttl|--seconds|--key|--prefix)
		return ;; # a value of the user's
	esac

	case $cmd in
	put) opts="-n --namespace --ttl --segment-size --memory-bytes --help" ;;
	get|del) opts="-n --namespace --help" ;;
	load) opts="-n --namespace --sync --batch --segment-size --memory-bytes
	      --help" ;;
	scan) opts="-n --namespace --prefix --help" ;;
	stats) opts="--json --memory-bytes --help" ;;
	verify|history|import-sqlite) opts="--json --help" ;;
	dump) opts="--json --raw --segment --from-seq --to-seq -n --namespace
		    --key --type --live-only --help" ;;
	repair) opts="--yes --json --help" ;;
	demo) opts="--seconds --help" ;;
	node)
		[ "$COMP_CWORD" -eq 2 ] && opts="list get" ||
			opts="--started --json --help" ;;
	policy)
		[ "$COMP_CWORD" -eq 2 ] && opts="put get list example" ||
			opts="--json --help" ;;
	cache)
		[ "$COMP_CWORD" -eq 2 ] && opts="get clear-expired" ||
			opts="--help" ;;
	ledger)
		[ "$COMP_CWORD" -eq 2 ] && opts="verify" || opts="--help" ;;
	help)
		opts="put get del load scan verify dump repair stats backup
		      compact snapshot node policy cache history ledger
		      import-sqlite demo --troff" ;;
	*) opts="--help" ;;
	esac
	if [[ $cur == -* || $cmd == help ]] ||
	   { [ "$COMP_CWORD" -eq 2 ] &&
	     [[ $cmd == node || $cmd == policy || $cmd == cache ||
		$cmd == ledger ]]; }; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return
	fi
	# DIR, a segment file, a SQLite DB, a policy FILE
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	compopt -o filenames 2>/dev/null
}
complete -F _logkeep logkeep
