//! The packages `scripts/package` builds, checked as a distribution would check them, and the
//! .deb then started as a person would start it; the .rpm must hold the very same files.
//! Building them takes a release build, so this runs only when asked —
//! `BATCHWATCH_TEST_PACKAGE=1 scripts/test` builds both and runs it (with `--ignored`, their
//! paths in `BATCHWATCH_PACKAGE` and `BATCHWATCH_RPM`); a plain run lists it as ignored, never
//! as passed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use batchwatch_e2e::desktop::Desktop;
use batchwatch_e2e::{eventually, os};

const WAIT: Duration = Duration::from_secs(60);

/// The hicolor sizes a desktop asks for.
const ICON_SIZES: [u32; 8] = [16, 24, 32, 48, 64, 128, 256, 512];

/// The package the environment variable `name` points at, which `scripts/test` sets.
fn built(name: &str) -> PathBuf {
    let path = std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("{name} names a package: run BATCHWATCH_TEST_PACKAGE=1 scripts/test")
        });
    assert!(path.exists(), "{} is missing", path.display());
    path
}

fn package() -> PathBuf {
    built("BATCHWATCH_PACKAGE")
}

fn rpm_package() -> PathBuf {
    built("BATCHWATCH_RPM")
}

/// `rpm -qp ARGS… PACKAGE`, Debian's rpm reading the package without installing it.
fn rpm_query(rpm: &Path, args: &[&str]) -> String {
    let mut all = vec!["-qp"];
    all.extend_from_slice(args);
    all.push(rpm.to_str().unwrap());
    let (ok, text) = run("rpm", &all);
    assert!(ok, "rpm {all:?}: {text}");
    text
}

/// Every file under `root` (not folders), by its path in the package, with its SHA-256.
fn digests(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let (ok, sum) = run("sha256sum", &[path.to_str().unwrap()]);
            assert!(ok, "{sum}");
            let name = format!("/{}", path.strip_prefix(root).unwrap().display());
            out.insert(name, sum.split_whitespace().next().unwrap().to_owned());
        }
    }
    out
}

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn field(deb: &Path, name: &str) -> String {
    let (ok, text) = run("dpkg-deb", &["-f", deb.to_str().unwrap(), name]);
    assert!(ok, "{text}");
    text.trim().to_owned()
}

/// The package unpacked into a throw-away directory.
fn unpacked(deb: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = run(
        "dpkg-deb",
        &["-x", deb.to_str().unwrap(), dir.path().to_str().unwrap()],
    );
    assert!(ok, "{text}");
    dir
}

/// The one desktop entry in the package.
fn desktop_entry(root: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(root.join("usr/share/applications"))
        .expect("a desktop entry")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "desktop"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

fn entry_value(entry: &str, key: &str) -> String {
    entry
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in the desktop entry:\n{entry}"))
        .to_owned()
}

#[test]
#[ignore = "needs the package: BATCHWATCH_TEST_PACKAGE=1 scripts/test builds it and runs this"]
fn the_package_holds_both_programs_a_valid_menu_entry_icons_and_metainfo() {
    let deb = package();
    assert_eq!(field(&deb, "Package"), "batchwatch");
    let (_, arch) = run("dpkg", &["--print-architecture"]);
    assert_eq!(field(&deb, "Architecture"), arch.trim());

    // Runtime libraries, never the -dev packages the build needs.
    let depends = field(&deb, "Depends");
    for library in ["libwebkit2gtk-4.1-0", "libgtk-3-0", "libdbus-1-3"] {
        assert!(depends.contains(library), "{library} in {depends}");
    }
    assert!(!depends.contains("-dev"), "{depends}");
    // The tray is served over D-Bus by the resident itself: no appindicator library.
    assert!(!depends.contains("appindicator"), "{depends}");

    let root = unpacked(&deb);
    let root = root.path();
    for program in [
        "usr/bin/batchwatch",
        "usr/bin/batchwatch-resident",
        "usr/bin/batchwatch-cli",
    ] {
        let path = root.join(program);
        let mode = std::os::unix::fs::PermissionsExt::mode(&path.metadata().unwrap().permissions());
        assert!(mode & 0o111 != 0, "{program} is executable: {mode:o}");
    }
    let (ok, version) = run(
        root.join("usr/bin/batchwatch-cli").to_str().unwrap(),
        &["--version"],
    );
    assert!(ok && version.contains("0.1.0"), "{version}");

    // The terminal companion's manual page (`man batchwatch-cli`) and completions, where
    // man-db, bash-completion, zsh and fish look for them.
    let man = root.join("usr/share/man/man1/batchwatch-cli.1.gz");
    let (ok, page) = run("man", &["-l", man.to_str().unwrap()]);
    assert!(
        ok && page.contains("batchwatch-cli") && page.contains("SUBCOMMANDS"),
        "{page}"
    );
    for (place, shell) in [
        (
            "usr/share/bash-completion/completions/batchwatch-cli",
            "bash",
        ),
        ("usr/share/zsh/vendor-completions/_batchwatch-cli", "zsh"),
        (
            "usr/share/fish/vendor_completions.d/batchwatch-cli.fish",
            "fish",
        ),
    ] {
        let script =
            std::fs::read_to_string(root.join(place)).unwrap_or_else(|e| panic!("{place}: {e}"));
        assert!(
            script.contains("retry") && script.contains("callback-gap"),
            "{shell}: {place}"
        );
    }

    for size in ICON_SIZES {
        let icon = root.join(format!(
            "usr/share/icons/hicolor/{size}x{size}/apps/batchwatch.png"
        ));
        let png = std::fs::read(&icon).unwrap_or_else(|e| panic!("{}: {e}", icon.display()));
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(width, size, "{}", icon.display());
    }

    let entry_path = desktop_entry(root);
    let (ok, text) = run("desktop-file-validate", &[entry_path.to_str().unwrap()]);
    assert!(ok && !text.contains("error:"), "{text}");
    let entry = std::fs::read_to_string(&entry_path).unwrap();
    assert_eq!(
        entry_value(&entry, "Exec"),
        "batchwatch",
        "the main entry's, the first"
    );
    assert_eq!(entry_value(&entry, "Icon"), "batchwatch");
    assert_eq!(entry_value(&entry, "Name"), "Batchwatch");
    assert_eq!(entry_value(&entry, "StartupNotify"), "true");
    // Right-clicked in a menu or dock: the demo, which never touches the keychain.
    assert_eq!(entry_value(&entry, "Actions"), "demo;");
    assert!(entry.contains("[Desktop Action demo]\nName=Try the demo\nExec=batchwatch --demo"));
    for key in ["GenericName", "Comment", "Keywords", "Categories"] {
        assert!(!entry_value(&entry, key).is_empty(), "{key}");
    }

    // The systemd user unit a server runs the tray app with, reading its credentials from a
    // file of the person's.
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/user/batchwatch.service"))
        .expect("the systemd user unit is in the package");
    assert!(
        unit.contains("\nExecStart=/usr/bin/batchwatch-resident\n"),
        "{unit}"
    );
    assert!(
        unit.contains("\nEnvironmentFile=-%h/.config/batchwatch/credentials.env\n"),
        "{unit}"
    );
    // The metainfo, checked with the tree it ships in (its launchable must be that entry).
    let metainfo = root.join("usr/share/metainfo/dev.batchwatch.app.metainfo.xml");
    let (ok, text) = run(
        "appstreamcli",
        &[
            "validate",
            "--no-net",
            "--pedantic",
            metainfo.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    let launchable = format!(
        "<launchable type=\"desktop-id\">{}</launchable>",
        entry_path.file_name().unwrap().to_str().unwrap()
    );
    assert!(
        std::fs::read_to_string(&metainfo)
            .unwrap()
            .contains(&launchable),
        "the metainfo launches the packaged entry: {launchable}"
    );
}

#[test]
#[ignore = "needs the package: BATCHWATCH_TEST_PACKAGE=1 scripts/test builds it and runs this"]
fn the_packaged_app_starts_the_demo_with_its_tray_item_and_the_window_the_entry_names() {
    let deb = package();
    let root = unpacked(&deb);
    let entry = std::fs::read_to_string(desktop_entry(root.path())).unwrap();
    let wm_class = entry_value(&entry, "StartupWMClass");

    let mut desktop = Desktop::new("package");
    let app = root.path().join("usr/bin/batchwatch");
    desktop.launch_program(&app, &["--demo"]);
    let service = os::tray_service(WAIT);
    let label = eventually("the demo's label in the tray", WAIT, || {
        Some(os::tray_property(&service, "XAyatanaLabel")).filter(|l| l.starts_with("Demo"))
    });
    assert!(label.starts_with("Demo"), "{label}");

    // Docks group the window under the menu entry by its WM_CLASS.
    let owner = app.to_str().unwrap().to_owned();
    let (instance, class) = eventually("the demo's window", WAIT, || {
        os::window_class("Batchwatch", &owner)
    });
    assert!(
        instance == wm_class || class == wm_class,
        "StartupWMClass={wm_class}, the window's WM_CLASS is {instance:?}, {class:?}"
    );
}

#[test]
#[ignore = "needs the packages: BATCHWATCH_TEST_PACKAGE=1 scripts/test builds them and runs this"]
fn the_rpm_holds_the_debs_files_and_asks_for_its_libraries_by_the_names_every_rpm_distribution_provides(
) {
    let rpm = rpm_package();
    let info = rpm_query(&rpm, &["-i"]);
    let value = |key: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {key} in:\n{info}"))
            .trim()
            .to_owned()
    };
    assert_eq!(value("Name"), "batchwatch");
    assert_eq!(value("Version"), "0.1.0");
    assert_eq!(value("Architecture"), std::env::consts::ARCH);
    assert_eq!(value("License"), "MIT OR Apache-2.0");
    assert!(value("Summary").contains("Trillet"), "{info}");

    // The same files as the .deb, byte for byte (`--dump` gives each file's size and SHA-256) —
    // but the window's program, in which Tauri's bundler marks the kind of package it went into
    // (for its updater): the same size, a few bytes apart.
    let window = "/usr/bin/batchwatch";
    let mut in_rpm: BTreeMap<String, String> = rpm_query(&rpm, &["--dump"])
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields[0].to_owned(), fields[3].to_owned())
        })
        .collect();
    let deb = unpacked(&package());
    let mut in_deb = digests(deb.path());
    assert!(in_deb.contains_key("/usr/share/man/man1/batchwatch-cli.1.gz"));
    let size = |root: &Path| root.join(&window[1..]).metadata().unwrap().len();
    let rpm_window_size: u64 = rpm_query(&rpm, &["--dump"])
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{window} "))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .expect("the window's program in the .rpm");
    assert_eq!(rpm_window_size, size(deb.path()));
    in_rpm.insert(window.into(), String::new());
    in_deb.insert(window.into(), String::new());
    assert_eq!(in_rpm, in_deb, "the .rpm's files and the .deb's");

    // Libraries by soname (Fedora's webkit2gtk4.1 is openSUSE's libwebkit2gtk-4_1-0), never a
    // -devel package, and nothing run as root at install.
    let requires = rpm_query(&rpm, &["--requires"]);
    for library in [
        "libwebkit2gtk-4.1.so.0()(64bit)",
        "libgtk-3.so.0()(64bit)",
        "libdbus-1.so.3()(64bit)",
    ] {
        assert!(
            requires.lines().any(|l| l.trim() == library),
            "{library} in {requires}"
        );
    }
    assert!(!requires.contains("-devel"), "{requires}");
    assert_eq!(
        rpm_query(&rpm, &["--scripts"]).trim(),
        "",
        "no install scripts"
    );
}
