# Shared by the scripts: install what is missing, and where builds go.
# Sourced, not run.

# Builds outside the clone so CI on the same machine reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/batchwatch-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Debian packages by purpose. Never add dbus-x11: with it a keyring call outside a session bus
# auto-launches a bus and hangs.
BUILD_PACKAGES=(build-essential pkg-config libdbus-1-dev libssl-dev
    libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libsoup-3.0-dev libxdo-dev)
# status-notifier-watcher stands in for a panel's tray host; busctl (systemd) reads the tray.
SESSION_PACKAGES=(xvfb xauth dbus dbus-bin gnome-keyring libsecret-tools dunst libnotify-bin
    haskell-status-notifier-item-utils systemd imagemagick x11-utils python3-xlib webkit2gtk-driver procps
    xclip tzdata tmux time at-spi2-core python3-pyatspi)
# What the package tests check the packages with (Debian's rpm reads an .rpm: -qip, -qlp).
PACKAGE_TEST_PACKAGES=(desktop-file-utils appstream man-db rpm)

log() { printf '\033[1m[%s]\033[0m %s\n' "$(basename "$0")" "$*" >&2; }

# ensure_packages PKG… — apt-get installs those not yet installed.
ensure_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing Debian packages: ${missing[*]}"
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 \
        install -y -q --no-install-recommends "${missing[@]}"
}

# Cargo tools the tests need, installed once into a cache outside the clone.
TOOLS_ROOT="${BATCHWATCH_TOOLS:-$HOME/.cache/batchwatch-tools}"
export PATH="$TOOLS_ROOT/bin:$PATH"

# tauri-cli 2 for scripts/package (crates.io also serves 3.0 alphas: ask for 2).
ensure_tauri_cli() {
    cargo tauri --version 2>/dev/null | grep -q '^tauri-cli 2\.' && return 0
    log "installing tauri-cli 2"
    cargo install tauri-cli --locked --version '^2' --root "$TOOLS_ROOT"
}

ensure_tauri_driver() {
    command -v tauri-driver >/dev/null 2>&1 && return 0
    log "installing tauri-driver"
    cargo install tauri-driver --locked --version '^2' --root "$TOOLS_ROOT"
}

# axe-core, the accessibility rules the window is audited with in the end-to-end tests, from
# npm into the tools cache; its path exported for the tests (the session's HOME is another).
AXE_VERSION=4.10.3
export BATCHWATCH_AXE_JS="${BATCHWATCH_AXE_JS:-$TOOLS_ROOT/axe-core-$AXE_VERSION/node_modules/axe-core/axe.min.js}"
ensure_axe_core() {
    [[ -s "$BATCHWATCH_AXE_JS" ]] && return 0
    command -v npm >/dev/null 2>&1 || ensure_packages npm
    log "installing axe-core $AXE_VERSION"
    npm install --no-save --no-audit --no-fund --prefix "$TOOLS_ROOT/axe-core-$AXE_VERSION" "axe-core@$AXE_VERSION" >&2
}
