# Sourced by Scripts/dev.sh and Scripts/test.sh: puts a Swift 6.2+ toolchain on PATH. It looks
# where toolchains are usually unpacked (/opt/swift, swiftly's directory); with none there, it
# installs one with swiftly, swift.org's toolchain installer (https://www.swift.org/install/linux/).
swiftly_home=${SWIFTLY_HOME_DIR:-$HOME/.local/share/swiftly}
if ! command -v swift >/dev/null; then
    for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin "$swiftly_home/bin"; do
        if [ -x "$dir/swift" ]; then
            PATH="$dir:$PATH"
            break
        fi
    done
fi
if ! command -v swift >/dev/null; then
    echo "no Swift toolchain found: installing the latest release with swiftly"
    (
        set -e
        cd "$(mktemp -d)"
        curl -fsSLO "https://download.swift.org/swiftly/linux/swiftly-$(uname -m).tar.gz"
        tar zxf "swiftly-$(uname -m).tar.gz"
        ./swiftly init --assume-yes --no-modify-profile --quiet-shell-followup
    ) || { echo "could not install Swift: install a Swift 6.2+ toolchain (https://www.swift.org/install/linux/) and put it on PATH" >&2; exit 1; }
    # shellcheck disable=SC1091
    . "$swiftly_home/env.sh"
fi
export PATH
