# shellcheck shell=bash
# Starting, finding and stopping the processes of one stack. Sourced by
# scripts/up after common.sh.
#
# Every long-running component is started in a session of its own (setsid)
# with its pid in $SBX_RUN_DIR/<name>.pid, so that:
#  - Ctrl-C in the terminal reaches scripts/up only, which then stops the
#    components in order instead of all of them dying at once;
#  - a component's whole process group (multiwatch and its workers, nginx
#    and its workers) is stopped with one signal to the group;
#  - --stop, and a later run after a crash, find it again from the pid file.
# Each one also carries SBX_INSTANCE=<state dir> in its environment, which
# is how any process of this stack is recognised, even one whose command
# line does not name the state directory.

# Starts name in the background: its own session, stdout and stderr
# appended to $SBX_LOG_DIR/<name>.log, the state directory as working
# directory, and the pid written by the process itself just before exec
# (so it is the pid of the program, not of a wrapper). The command runs
# with exactly the environment given by the KEY=value words before "--".
sbx_spawn() {
    local name=$1; shift
    local envw=()
    while [ "$1" != "--" ]; do envw+=("$1"); shift; done
    shift
    local pidfile="$SBX_RUN_DIR/$name.pid" log="$SBX_LOG_DIR/$name.log"
    rm -f "$pidfile"
    # shellcheck disable=SC2016 # $$ and $@ are for the inner sh
    # setsid does not fork here: a background job of a non-interactive
    # shell is never a process group leader, so the pid stays the same
    # through both execs.
    (
        sbx_close_fds
        cd "$SBX_STATE_DIR" || exit 1
        exec setsid env -i "SBX_INSTANCE=$SBX_STATE_DIR" "${envw[@]}" \
            /bin/sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@"
    ) >> "$log" 2>&1 < /dev/null &
    # Tracked by its pid file, not as a job (no "Killed" notices).
    disown "$!" 2>/dev/null || true
    sbx_wait_for 5 test -s "$pidfile" || sbx_die "$name did not start; see $log"
}

# Closes every fd above 2 of the current (sub)shell. Only stdin, stdout
# and stderr may reach a daemon: a pipe inherited from whoever ran
# scripts/up would keep that caller waiting, and fd 9 is scripts/up's lock.
sbx_close_fds() {
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
}

# The pid in name's pid file when that process is alive and ours.
sbx_pid_of() {
    local pidfile="$SBX_RUN_DIR/$1.pid" pid
    [ -s "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    case "$pid" in ''|*[!0-9]*) return 1 ;; esac
    sbx_pid_is_ours "$pid" || return 1
    printf '%s\n' "$pid"
}

# True when pid is alive and belongs to this stack: its environment holds
# SBX_INSTANCE=<our state dir>, or it has no SBX_INSTANCE and its command
# line names the state directory (PostgreSQL restarted by hand, say). A
# pid file left by a crash may name a pid that is now someone else's, and
# another stack may run our binaries (SBX_BUILD_DIR shared), hence both.
sbx_pid_is_ours() {
    local pid=$1 item
    local -a env=() argv=()
    [ -d "/proc/$pid" ] || return 1
    # Builtins only: this runs for every process on the machine.
    mapfile -d '' -t env 2>/dev/null < "/proc/$pid/environ" || true
    for item in "${env[@]}"; do
        case "$item" in
            # An explicit status: in a trap handler (Ctrl-C), a bare
            # "return" returns the status from before the trap.
            SBX_INSTANCE=*) [ "${item#SBX_INSTANCE=}" = "$SBX_STATE_DIR" ]; return $? ;;
        esac
    done
    mapfile -d '' -t argv 2>/dev/null < "/proc/$pid/cmdline" || true
    for item in "${argv[@]}"; do
        case "$item" in *"$SBX_STATE_DIR/"*) return 0 ;; esac
    done
    return 1
}

# The parent pid of pid (0 when it is gone), without a fork.
sbx_ppid() {
    local line
    while IFS= read -r line; do
        case "$line" in PPid:*) printf '%s\n' "${line//[!0-9]/}"; return 0 ;; esac
    done 2>/dev/null < "/proc/$1/status" || true
    printf '0\n'
}

# Every live process of this stack (see sbx_pid_is_ours), except this
# shell and its ancestors (a caller may hold the state dir in argv).
sbx_instance_pids() {
    local self=$$ p ancestors=" "
    p=$self
    while [ "$p" -gt 1 ] 2>/dev/null; do
        ancestors+="$p "
        p=$(sbx_ppid "$p")
    done
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        case "$ancestors" in *" $p "*) continue ;; esac
        [ "$p" != "${BASHPID:-$$}" ] || continue
        if sbx_pid_is_ours "$p"; then printf '%s\n' "$p"; fi
    done
}

# Stops the component name: TERM to the program itself, which stops its
# own children (multiwatch passes the stop to its workers and does not
# respawn them; nginx's master stops its workers); whatever is left in
# its process group once the program has exited (or after $2 seconds,
# default 10) gets TERM, and KILL 5 seconds later. TERM to the whole
# group at once would race multiwatch: a worker that exits before
# multiwatch sees the signal is respawned. Quiet when it is not running.
sbx_stop_component() {
    local name=$1 grace=${2:-10} pid stale
    stale=$(cat "$SBX_RUN_DIR/$name.pid" 2>/dev/null || true)
    case "$stale" in ''|*[!0-9]*) stale="" ;; esac
    if pid=$(sbx_pid_of "$name"); then
        sbx_say "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        sbx_wait_for "$grace" sbx_pid_gone "$pid" || true
        if ! sbx_gone "$pid"; then
            kill -TERM -- "-$pid" 2>/dev/null || true
            if ! sbx_wait_for 5 sbx_gone "$pid"; then
                sbx_warn "$name did not stop on TERM; killing it"
                kill -KILL -- "-$pid" 2>/dev/null || true
                sbx_wait_for 5 sbx_gone "$pid" || true
            fi
        fi
    elif [ -n "$stale" ] && ! sbx_gone "$stale"; then
        # The program was killed, but its children live on (nginx's
        # workers keep serving the port when the master is killed). They
        # are still in the session it led: a session id is not reused
        # while any process is in that session.
        sbx_warn "$name (pid $stale) is gone but left processes; stopping them"
        kill -TERM -- "-$stale" 2>/dev/null || true
        if ! sbx_wait_for 5 sbx_gone "$stale"; then
            kill -KILL -- "-$stale" 2>/dev/null || true
            sbx_wait_for 5 sbx_gone "$stale" || true
        fi
    fi
    rm -f "$SBX_RUN_DIR/$name.pid"
}

# True when the process pid has exited (a zombie has).
sbx_pid_gone() {
    local line=""
    read -r line 2>/dev/null < "/proc/$1/stat" || return 0
    # The state follows the command name, which may hold spaces: "(...) S".
    line=${line##*) }
    [ "${line%% *}" = Z ]
}

# True when no live (non-zombie) process is left in the process group of
# pid, the group leader included: a zombie holds no socket or port, and
# the shell that started it may not have reaped it yet.
sbx_gone() {
    ! ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}
