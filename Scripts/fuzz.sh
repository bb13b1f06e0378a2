#!/usr/bin/env bash
# Builds the libFuzzer harness (Fuzz/) with coverage instrumentation and AddressSanitizer, and
# fuzzes one target, or each in turn, for a bounded time:
#
#   Scripts/fuzz.sh [TARGET|all] [SECONDS] [libFuzzer flags...]
#
# TARGET is topics, intake, handlers, config or profile (default: all); SECONDS per target
# (default 60). The committed corpus Fuzz/Corpus/TARGET is read, never written: new
# interesting inputs go to .build-fuzz/corpus/TARGET, crashes to .build-fuzz/artifacts/TARGET/.
# The end of the run prints how to merge what it found into the committed corpus; extra
# arguments go to libFuzzer (-fork=1 -ignore_crashes=1 keeps going after a crash).
set -euo pipefail
cd "$(dirname "$0")/.."
. Scripts/swift-env.sh

targets=(topics intake handlers config profile)
target=${1:-all}
seconds=${2:-60}
shift $(($# < 2 ? $# : 2))
if [ "$target" = all ]; then
    selected=("${targets[@]}")
elif [[ " ${targets[*]} " == *" $target "* ]]; then
    selected=("$target")
else
    echo "usage: Scripts/fuzz.sh [${targets[*]// /|}|all] [SECONDS] [libFuzzer flags...]" >&2
    exit 2
fi

toolchain=$(dirname "$(dirname "$(command -v swift)")")
if ! compgen -G "$toolchain/lib/clang/*/lib/linux/libclang_rt.fuzzer-$(uname -m).a" >/dev/null; then
    echo "no libFuzzer runtime (libclang_rt.fuzzer) in $toolchain: use a swift.org toolchain for Linux" >&2
    exit 1
fi

scratch=.build-fuzz
# libFuzzer reports crashes itself; the Swift runtime's backtracer would only delay it.
export SWIFT_BACKTRACE=enable=no
# -sanitize=fuzzer on every module, not only the harness: coverage of the code under test is
# what guides the fuzzer (and of libyaml, through -Xcc, for the YAML targets).
swift build --package-path Fuzz --scratch-path "$scratch" -c release \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
fuzzer="$scratch/release/courier-fuzz"

dictionary() {
    case $1 in
    config | profile) echo Fuzz/Dictionaries/yaml.dict ;;
    *) echo "Fuzz/Dictionaries/$1.dict" ;;
    esac
}

status=0
for name in "${selected[@]}"; do
    mkdir -p "$scratch/corpus/$name" "$scratch/artifacts/$name"
    echo "== $name: ${seconds}s"
    COURIER_FUZZ_TARGET=$name "$fuzzer" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=4096 \
        -dict="$(dictionary "$name")" -artifact_prefix="$scratch/artifacts/$name/" \
        -print_final_stats=1 "$@" \
        "$scratch/corpus/$name" "Fuzz/Corpus/$name" || status=$?
done

echo
# The committed corpus keeps one input per new edge (-use_counters=0: hit counts are not
# features), the smallest set that covers them (-set_cover_merge=1): small enough to commit
# and to replay in CourierFuzzTests, and the fuzzer regains the rest from it in seconds.
echo "New inputs are in $scratch/corpus/TARGET. To add those that reach new code to the committed corpus:"
echo "  COURIER_FUZZ_TARGET=TARGET $fuzzer -use_counters=0 -set_cover_merge=1 Fuzz/Corpus/TARGET $scratch/corpus/TARGET"
echo "A crash is written to $scratch/artifacts/TARGET/; replay it with:"
echo "  COURIER_FUZZ_TARGET=TARGET $fuzzer $scratch/artifacts/TARGET/crash-..."
exit "$status"
