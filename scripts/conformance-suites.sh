#!/usr/bin/env bash
# Runs three independent filesystem conformance suites against a directory
# that is already mounted, and prints one line per suite:
#
#   SUITE: N passed, M failed, K skipped
#
#   pjdfstest  POSIX system-call semantics (crates.io pjdfstest 0.2.2)
#   fsx        randomised reads, writes, mmap, truncation, fallocate and
#              hole punching checked against a model (crates.io fsx 0.3.2)
#   stress-ng  filesystem stressors with --verify (Debian package)
#
# A missing suite is installed first (cargo install --locked from crates.io;
# apt-get for stress-ng). As root, so that pjdfstest can chown, mknod and
# switch users (it needs the users nobody and tests, made when missing).
#
#   scripts/conformance-suites.sh [-o LOGDIR] [-s SUITES] [-n FSX_OPS]
#                                 [-S FSX_SEED] [-t STRESS_SECONDS] MOUNTPOINT
#
#   -o  where the logs go (default: a new directory under /var/tmp)
#   -s  comma-separated subset of pjdfstest,fsx,stress-ng (default: all)
#   -n  fsx operations per configuration (default 10000)
#   -S  fsx seed (default 42: runs are reproducible)
#   -t  seconds per stress-ng stressor (default 3)
#
# Exit status: 0 when nothing failed, 1 when a case failed (or a suite could
# not run), 2 on a usage or setup error. Failing cases are listed in
# LOGDIR/<suite>.failed and, with the summary lines, in LOGDIR/summary.txt.
set -uo pipefail

readonly PJDFSTEST_VERSION=0.2.2
readonly FSX_VERSION=0.3.2
# Every stressor that exercises the filesystem rather than memory or CPU.
readonly STRESSORS=(dir dirdeep rename link symlink xattr dentry file-ioctl fallocate chmod
    chown utime getdent copy-file flock lockf fcntl seek filename fiemap inode-flags
    readahead sync-file lease hdd)
readonly FSX_CONFIGS=(basic mmap ext punch)

logs="" suites="pjdfstest,fsx,stress-ng" fsx_ops=10000 fsx_seed=42 stress_seconds=3

usage() { sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; }
say() { echo "conformance: $*" >&2; }
fail_setup() { say "$*"; exit 2; }

while getopts "o:s:n:S:t:h" opt; do
    case $opt in
        o) logs=$OPTARG ;;
        s) suites=$OPTARG ;;
        n) fsx_ops=$OPTARG ;;
        S) fsx_seed=$OPTARG ;;
        t) stress_seconds=$OPTARG ;;
        h) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { usage >&2; exit 2; }
mountpoint=$(cd "$1" 2>/dev/null && pwd) || fail_setup "no such directory: $1"
[ "$mountpoint" != / ] || fail_setup "refusing to run on /"
[ -n "$logs" ] || logs=$(mktemp -d /var/tmp/strata-conformance-logs.XXXXXX)
mkdir -p "$logs" && logs=$(cd "$logs" && pwd) || fail_setup "cannot create $logs"
summary=$logs/summary.txt
: >"$summary"
export PATH="$HOME/.cargo/bin:$PATH"

selected() { [[ ",$suites," == *",$1,"* ]]; }

# ------------------------------------------------------------------ installing
apt_updated=false
apt_get_install() {
    command -v apt-get >/dev/null || { say "no apt-get: install $* by hand"; return 1; }
    if ! $apt_updated; then
        apt-get update -qq >>"$logs/install.log" 2>&1
        apt_updated=true
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >>"$logs/install.log" 2>&1
}

# True when `$1 --version` ends with the version `$2`.
installed_at() { command -v "$1" >/dev/null && [[ $("$1" --version 2>/dev/null) == *" $2" ]]; }

crate_install() { # CRATE VERSION
    command -v cargo >/dev/null || { say "no cargo: cannot install $1"; return 1; }
    say "installing $1 $2 (cargo install, a few minutes)"
    cargo install --locked "$1@$2" >>"$logs/install.log" 2>&1
}

install_missing_suites() {
    if selected pjdfstest && ! installed_at pjdfstest "$PJDFSTEST_VERSION"; then
        # Debian has no pjdfstest package; the crate links libacl.
        dpkg -s libacl1-dev >/dev/null 2>&1 || apt_get_install libacl1-dev pkg-config \
            || say "libacl1-dev could not be installed"
        crate_install pjdfstest "$PJDFSTEST_VERSION" || say "pjdfstest could not be installed (see $logs/install.log)"
    fi
    if selected fsx && ! installed_at fsx "$FSX_VERSION"; then
        crate_install fsx "$FSX_VERSION" || say "fsx could not be installed (see $logs/install.log)"
    fi
    if selected stress-ng && ! command -v stress-ng >/dev/null; then
        apt_get_install stress-ng || say "stress-ng could not be installed (see $logs/install.log)"
    fi
}

# pjdfstest switches to the users nobody and tests (group tests).
ensure_pjdfstest_users() {
    [ "$(id -u)" = 0 ] || return 0
    getent group tests >/dev/null || groupadd tests
    getent passwd tests >/dev/null || useradd -g tests -M -d / -s /usr/sbin/nologin tests
    getent passwd nobody >/dev/null || useradd -M -d /nonexistent -s /usr/sbin/nologin nobody
}

# ------------------------------------------------------------------ reporting
# Prints and records the suite's line; true when nothing failed.
report() { # SUITE PASSED FAILED SKIPPED
    echo "$1: $2 passed, $3 failed, $4 skipped" | tee -a "$summary"
    [ -s "$logs/$1.failed" ] && sed 's/^/    FAILED /' "$logs/$1.failed" >>"$summary"
    [ "$3" -eq 0 ]
}

# A suite that could not run counts as one failure, never as a pass.
not_installed() { # SUITE
    echo "$1 is not installed" >"$logs/$1.failed"
    report "$1" 0 1 0
}

# ------------------------------------------------------------------ pjdfstest
# A directory on another filesystem than $1, for the EXDEV cases.
other_filesystem() {
    local dir
    for dir in /dev/shm /run; do
        if [ -d "$dir" ] && [ -w "$dir" ] && [ "$(stat -c %d "$dir")" != "$(stat -c %d "$1")" ]; then
            echo "$dir"
            return
        fi
    done
}

write_pjdfstest_config() { # DIR CONFIG
    local other nobody_group
    other=$(other_filesystem "$1")
    nobody_group=$(id -gn nobody 2>/dev/null || echo nogroup)
    cat >"$2" <<EOF
[features]
posix_fallocate = {}
rename_ctime = {}
utime_now = {}
utimensat = {}
${other:+secondary_fs = \"$other\"}

[settings]
naptime = 0.01
# The EROFS cases remount the filesystem read-only: never here.
allow_remount = false

[dummy_auth]
entries = [["nobody", "$nobody_group"], ["tests", "tests"]]
EOF
}

# The count before `$2` in pjdfstest's line "Summary: F failed, S skipped, P passed, …".
summary_count() { grep -oE "[0-9]+ $2" <<<"$1" | head -1 | cut -d' ' -f1; }

run_pjdfstest() { # DIR
    command -v pjdfstest >/dev/null || { not_installed pjdfstest; return; }
    local config=$logs/pjdfstest.toml log=$logs/pjdfstest.log line status
    write_pjdfstest_config "$1" "$config"
    RUST_BACKTRACE=0 NO_COLOR=1 timeout 900 pjdfstest -c "$config" -p "$1" >"$log" 2>&1
    status=$?
    grep -E '^[A-Za-z0-9_:]+ +(FAILED|PASSED UNEXPECTEDLY)$' "$log" | awk '{print $1}' | sort >"$logs/pjdfstest.failed"
    grep -E '^[A-Za-z0-9_:]+ +skipped$' "$log" | awk '{print $1}' | sort >"$logs/pjdfstest.skipped"
    line=$(grep -E '^Summary: ' "$log" | tail -1)
    if [ -z "$line" ]; then
        echo "pjdfstest stopped without a summary (status $status, see pjdfstest.log)" >>"$logs/pjdfstest.failed"
        report pjdfstest 0 1 0
        return
    fi
    report pjdfstest "$(summary_count "$line" passed)" "$(summary_count "$line" failed)" \
        "$(summary_count "$line" skipped)"
}

# ------------------------------------------------------------------ fsx
# fsx's operation weights per configuration (an empty file: fsx's defaults).
write_fsx_config() { # NAME FILE
    case $1 in
        basic) # pread, pwrite, truncate and syncs only
            printf '%s\n' 'flen = 262144' '[weights]' close_open=1 read=10 write=10 mapread=0 \
                mapwrite=0 truncate=1 fsync=1 fdatasync=1 ;;
        mmap) # the defaults: reads and writes, also through mmap, and truncation
            ;;
        ext) # every operation fsx knows on Linux but hole punching
            printf '%s\n' 'flen = 262144' '[weights]' close_open=1 read=10 write=10 mapread=10 \
                mapwrite=10 invalidate=1 truncate=2 fsync=1 fdatasync=1 posix_fallocate=1 \
                sendfile=1 posix_fadvise=1 copy_file_range=1 ;;
        punch) # fsx stops at EOPNOTSUPP, so hole punching runs on its own
            printf '%s\n' 'flen = 262144' '[weights]' read=10 write=10 truncate=1 \
                posix_fallocate=1 punch_hole=2 ;;
    esac >"$2"
}

run_fsx() { # DIR
    command -v fsx >/dev/null || { not_installed fsx; return; }
    local passed=0 failed=0 name log
    : >"$logs/fsx.failed"
    for name in "${FSX_CONFIGS[@]}"; do
        log=$logs/fsx-$name.log
        write_fsx_config "$name" "$logs/fsx-$name.toml"
        mkdir -p "$logs/fsx-$name.artifacts"
        if timeout 600 fsx -f "$logs/fsx-$name.toml" -N "$fsx_ops" -S "$fsx_seed" \
            -P "$logs/fsx-$name.artifacts" "$1/fsx-$name.dat" >"$log" 2>&1; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "fsx:$name $(grep -m1 -E 'panicked|miscompare|FAIL|Err|error' "$log" | cut -c1-160)" >>"$logs/fsx.failed"
        fi
        rm -f "$1/fsx-$name.dat"
    done
    report fsx "$passed" "$failed" 0
}

# ------------------------------------------------------------------ stress-ng
run_stress_ng() { # DIR
    command -v stress-ng >/dev/null || { not_installed stress-ng; return; }
    local passed=0 failed=0 skipped=0 stressor log status extra
    : >"$logs/stress-ng.failed"
    : >"$logs/stress-ng.skipped"
    mkdir -p "$logs/stress-ng"
    for stressor in "${STRESSORS[@]}"; do
        log=$logs/stress-ng/$stressor.log
        extra=()
        [ "$stressor" = hdd ] && extra=(--hdd-bytes 32M)
        rm -f "$log"
        timeout -k 10 $((stress_seconds * 5 + 60)) stress-ng --"$stressor" 1 "${extra[@]}" \
            --timeout "$stress_seconds" --temp-path "$1" --verify --metrics-brief \
            --log-file "$log" >/dev/null 2>&1
        status=$?
        # A stressor that skips itself (the filesystem lacks what it tests)
        # exits 0 but says so; 3 (no resource) and 4 (not implemented) skip too.
        [ $status = 0 ] && grep -qE 'skipping stressor|will be skipped' "$log" && status=3
        case $status in
            0) passed=$((passed + 1)) ;;
            3 | 4)
                skipped=$((skipped + 1))
                echo "$stressor (status $status) $(grep -m1 -iE 'skipp|not supported|not implemented' "$log" | cut -c1-160)" >>"$logs/stress-ng.skipped"
                ;;
            *)
                failed=$((failed + 1))
                echo "$stressor (status $status) $(grep -m1 -E 'fail|error|FAIL' "$log" | cut -c1-160)" >>"$logs/stress-ng.failed"
                ;;
        esac
    done
    report stress-ng "$passed" "$failed" "$skipped"
}

# ------------------------------------------------------------------ main
install_missing_suites
ensure_pjdfstest_users
[ "$(id -u)" = 0 ] || say "not root: pjdfstest skips its privileged cases"
# pjdfstest binds UNIX sockets below its directory; sun_path holds 108 bytes.
[ ${#mountpoint} -le 40 ] || say "mountpoint path over 40 characters: pjdfstest's socket cases may fail"
# Short names for the same reason: cfXXXX/p, cfXXXX/f, cfXXXX/s.
scratch=$(mktemp -d "$mountpoint/cfXXXX") || fail_setup "cannot create a directory in $mountpoint"
# pjdfstest's users must be able to reach their directories.
chmod 0755 "$scratch"
say "mountpoint $mountpoint, logs in $logs"

status=0
for suite in pjdfstest fsx stress-ng; do
    selected "$suite" || continue
    started=$SECONDS
    mkdir -m 0755 "$scratch/${suite:0:1}"
    "run_${suite//-/_}" "$scratch/${suite:0:1}" || status=1
    echo "    ($suite took $((SECONDS - started))s)" >>"$summary"
done
rm -rf "$scratch" || say "could not remove $scratch (left for inspection)"
exit $status
