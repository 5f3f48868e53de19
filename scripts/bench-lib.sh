# Helpers shared by the benchmark runners (sourced after lib.sh).

# Median of the arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
# a / b with 2 decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# yes/no: is $1 <= $2 (op le) or >= $2 (op ge, the default)?
meets() { awk -v v="$1" -v t="$2" -v op="${3:-ge}" 'BEGIN {ok = (op == "le") ? (v <= t) : (v >= t); print ok ? "yes" : "no"}'; }
fmt_ms() { awk -v v="$1" 'BEGIN {printf "%.0f ms", v}'; }
# Milliseconds of the last "Time: ..." line psql's \timing printed.
last_ms() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n1; }

# Room for large statements without a checkpoint in the middle of one.
bench_tuning() {
    as_pg tee "$1/data/bench.conf" >/dev/null <<CONF
# Benchmarks: room for the large inserts and deletes without a checkpoint in the middle.
shared_buffers = '512MB'
max_wal_size = '8GB'
checkpoint_timeout = '30min'
# They measure the cost per row and per request, not the bounds one request
# is held to: statements of any size and length.
task_api.max_bulk_rows = 0
task_api.statement_timeout = 0
CONF
    echo "include = 'bench.conf'" | as_pg tee -a "$1/data/postgresql.conf" >/dev/null
}

# bench_cluster_create STATE PORT: install what is missing, build and install
# the extension, then a fresh cluster with bench_tuning in .task_api/STATE
# listening on PORT (not started: the caller may add settings first, then
# cluster_start "$dir").  Sets dir; empties $logdir.  On exit the cluster is
# discarded, or only stopped with TASK_API_KEEP_BENCH_CLUSTER=1; a runner
# with more to stop traps EXIT itself and calls bench_cluster_discard last.
bench_cluster_create() {
    BENCH_STATE=$1
    "$ROOT/scripts/deps.sh"
    build_and_install
    dir=$(state_dir "$BENCH_STATE")
    trap bench_cluster_discard EXIT
    rm -rf "$logdir" && mkdir -p "$logdir"
    cluster_recreate "$dir" "$2"
    bench_tuning "$dir"
}

bench_cluster_discard() {
    if [ -z "${TASK_API_KEEP_BENCH_CLUSTER:-}" ]; then
        cluster_discard "$dir"
        remove_state_dir "$BENCH_STATE"
    else
        cluster_stop "$dir" || true
    fi
}

# bench_results ROWS APPEND RESULTS STANDALONE_FILE SCRIPT ROUNDS: with
# APPEND=1 and an existing RESULTS table, add ROWS after its last row;
# otherwise write a table of ROWS to STANDALONE_FILE.  Prints the file used.
bench_results() {
    local rows=$1 append=$2 results=$3 standalone=$4 script=$5 rounds=$6 tmp pg_version
    if [ "$append" = 1 ] && [ -f "$results" ]; then
        tmp=$(mktemp)
        awk -v rows="$rows" '
            /^\|/ {print; intable = 1; next}
            intable && !done {print rows; done = 1}
            {print}
            END {if (!done) print rows}' "$results" > "$tmp"
        mv "$tmp" "$results"
        chmod 644 "$results"
        echo "$results"
        return
    fi
    pg_version=$("$PGBIN/postgres" --version | awk '{print $3}')
    {
        echo "| Benchmark | Baseline | task_api | Ratio | Target | Met |"
        echo "|---|---|---|---|---|---|"
        echo "$rows"
        echo
        echo "Medians of $rounds alternating rounds, $(date -u +%Y-%m-%d), PostgreSQL $pg_version, $(nproc) CPUs; \`$script\`."
    } > "$standalone"
    echo "$standalone"
}

# The runners time several variants of one statement per round; they keep
# v_ms[variant] (the times of every round), v_med[variant] (the medians),
# v_label[variant] and the list of variants in ${variants[@]}, with "bare"
# the baseline and "api" the subject.

# " 2.10x 2.31x ...": subject / baseline, round by round.
per_round_ratios() {
    local out="" i a_api a_bare
    read -r -a a_api <<<"${v_ms[api]}"
    read -r -a a_bare <<<"${v_ms[bare]}"
    for i in "${!a_api[@]}"; do out="$out $(ratio "${a_api[$i]}" "${a_bare[$i]}")x"; done
    echo "$out"
}

# One line per variant: median, ratio to the baseline, cost per row of N.
print_variants() {
    local n=$1 v
    for v in "${variants[@]}"; do
        printf '  %-72s %9s  %6sx  %6.1f us/row\n' "${v_label[$v]}" "$(fmt_ms "${v_med[$v]}")" \
            "$(ratio "${v_med[$v]}" "${v_med[bare]}")" "$(awk -v m="${v_med[$v]}" -v n="$n" 'BEGIN {print m * 1000 / n}')"
    done
}

# overhead_step A B N: what going from median B to median A costs per row of
# N, and its share of the subject's overhead over the baseline.
overhead_step() {
    awk -v a="$1" -v b="$2" -v n="$3" -v t="${v_med[api]}" -v base="${v_med[bare]}" \
        'BEGIN {d = a - b; printf "%6.1f us/row  (%4.1f%% of the overhead over the baseline)", d * 1000 / n, 100 * d / (t - base)}'
}

# bench_option "$@": APPEND=1 with --append (add rows to the table that
# scripts/bench.sh wrote), else 0.
bench_option() {
    APPEND=0
    case "${1:-}" in
        --append) APPEND=1 ;;
        "") ;;
        *) die "usage: $0 [--append]" ;;
    esac
}

# run_variant_rounds TIMER [ARGS...]: ROUNDS rounds of "TIMER VARIANT ARGS"
# (which prints milliseconds) over ${variants[@]}, in reverse order every
# other round so that no variant always runs first; fills v_ms and v_med
# (associative arrays the caller declares).
run_variant_rounds() {
    local timer=$1 r v ms line order i
    shift
    for r in $(seq 1 "$ROUNDS"); do
        order=()
        if [ $((r % 2)) = 1 ]; then
            order=("${variants[@]}")
        else
            for ((i = ${#variants[@]} - 1; i >= 0; i--)); do order+=("${variants[$i]}"); done
        fi
        line="round $r:"
        for v in "${order[@]}"; do
            ms=$("$timer" "$v" "$@") || exit 1
            v_ms[$v]="${v_ms[$v]:-} $ms"
            line="$line $v=$(fmt_ms "$ms")"
        done
        echo "  $line"
    done
    for v in "${variants[@]}"; do
        # shellcheck disable=SC2086
        v_med[$v]=$(median ${v_ms[$v]})
    done
}
