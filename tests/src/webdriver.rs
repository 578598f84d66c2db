//! The W3C WebDriver calls the tests need, over blocking HTTP to `tauri-driver`.

use std::time::Duration;

use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct WebDriver {
    http: reqwest::blocking::Client,
    base: String,
    session: String,
}

impl WebDriver {
    /// Opens a session that launches `application` with `args`.
    pub fn start(port: u16, application: &str, args: &[&str]) -> Result<Self, String> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let base = format!("http://127.0.0.1:{port}");
        let body = json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": application, "args": args}}}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&body)
            .send()
            .and_then(|r| r.json())
            .map_err(|e| e.to_string())?;
        let session = answer["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session: {answer}"))?
            .to_owned();
        Ok(Self {
            http,
            base,
            session,
        })
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| json!({"value": {"error": e.to_string()}}));
        answer["value"].clone()
    }

    /// Runs `script` in the window (W3C "execute sync") and returns its result.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The text of the first element matching `css`, or `None`.
    pub fn text(&self, css: &str) -> Option<String> {
        self.run(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            json!([css]),
        )
        .as_str()
        .map(str::to_owned)
    }

    /// The value of the first form field matching `css` (what is typed in it, or chosen), or
    /// `None`.
    pub fn value(&self, css: &str) -> Option<String> {
        self.run(
            "const e = document.querySelector(arguments[0]); return e ? e.value : null;",
            json!([css]),
        )
        .as_str()
        .map(str::to_owned)
    }

    /// The texts of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.run(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
            json!([css]),
        )
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
    }

    fn element(&self, css: &str) -> Option<String> {
        let found = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found[ELEMENT].as_str().map(str::to_owned)
    }

    /// Types into the element matching `css`, as keystrokes.
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self
            .element(css)
            .unwrap_or_else(|| panic!("no element {css}"));
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    pub fn click(&self, css: &str) {
        let element = self
            .element(css)
            .unwrap_or_else(|| panic!("no element {css}"));
        // Into the middle of the window first: WebKit's driver scrolls an element only to the
        // window's edge, where a click at its centre can fall outside the X window and be lost.
        self.run(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'}); return null;",
            json!([css]),
        );
        let answer = self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
        // A click that did not happen (intercepted, not interactable) fails here, where it
        // is plain, not later as an action that seems to have done nothing.
        assert!(answer.get("error").is_none(), "clicking {css}: {answer}");
    }

    /// The whole document, for "the key is not in the page" checks.
    pub fn page_source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Ends the session (which ends the app).
    pub fn quit(self) {}
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
    }
}
