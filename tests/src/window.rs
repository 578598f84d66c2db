//! What a person does in the window and reads off it, for the end-to-end suites.

use serde_json::json;

use crate::desktop::WORKSPACE;
use crate::webdriver::WebDriver;

/// Enters credentials the way a person does and waits for the confirmation.
pub fn save_credentials(window: &WebDriver, key: &str) {
    window.run(
        "document.getElementById('credentials-panel').open = true;",
        json!([]),
    );
    window.type_into("#api-key", key);
    window.run(
        "document.getElementById('workspace-id').value = '';",
        json!([]),
    );
    window.type_into("#workspace-id", WORKSPACE);
    window.click("#credentials-form button[type=submit]");
}

/// The state of the card of batch `id` (`running`, `completed`, …), empty when there is none.
pub fn card_state(window: &WebDriver, id: &str) -> String {
    window
        .run("const c = [...document.querySelectorAll('.card')].find(c => c.dataset.id === arguments[0]); return c ? c.dataset.state || '' : '';", json!([id]))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The text of `css` in the card of batch `id`, unless it (or what holds it) is hidden.
pub fn in_card(window: &WebDriver, id: &str, css: &str) -> Option<String> {
    window
        .run(
            "const c = document.querySelector(`.card[data-id='${arguments[0]}']`); const e = c && c.querySelector(arguments[1]); return e && !e.closest('[hidden]') ? e.textContent : null;",
            json!([id, css]),
        )
        .as_str()
        .map(str::to_owned)
}

/// Opens the Settings panel and waits until it shows the stored settings.
pub fn open_settings(window: &WebDriver) {
    window.run(
        "document.getElementById('settings-panel').open = true;",
        json!([]),
    );
    crate::eventually(
        "the stored settings in the form",
        std::time::Duration::from_secs(30),
        || {
            window
                .text("#settings-consequence")
                .filter(|t| !t.is_empty())
        },
    );
}

/// Replaces what a field of a form holds with `text`, as a person selects it and types: it is
/// emptied as an edit (an input event), so a view pushed meanwhile cannot put the stored value
/// back before the typing (a 1 typed after a stored 15 would read 151).
pub fn retype(window: &WebDriver, css: &str, text: &str) {
    window.run(
        "const e = document.querySelector(arguments[0]); e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true }));",
        json!([css]),
    );
    window.type_into(css, text);
}

/// The WCAG 2.1 A and AA rules axe-core finds violated in the window as it is now, one line
/// each: the rule, what it says, and every element it names. axe-core comes from npm
/// (`scripts/lib/common.sh`, `ensure_axe_core`), injected through WebDriver: the page's own
/// content security policy governs the page's scripts, not the driver's.
pub fn accessibility_violations(window: &WebDriver) -> Vec<String> {
    let loaded = window
        .run("return typeof axe !== 'undefined';", json!([]))
        .as_bool()
        .unwrap_or(false);
    if !loaded {
        let path = std::env::var("BATCHWATCH_AXE_JS").expect(
            "BATCHWATCH_AXE_JS names axe.min.js: run the tests through scripts/test or scripts/desktop-session",
        );
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("axe-core at {path}: {e} (scripts/desktop-session installs it)")
        });
        window.run(&format!("{source}\nreturn null;"), json!([]));
    }
    let found = window.run(
        "return axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations'], rules: {'label-content-name-mismatch': {enabled: true}}})
           .then(r => r.violations.map(v => `${v.id} (${v.help}): ` + v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary.replace(/\\s+/g, ' ')).join(' | ')));",
        json!([]),
    );
    let lines = found
        .as_array()
        .unwrap_or_else(|| panic!("axe-core did not run: {found}"));
    lines
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}
