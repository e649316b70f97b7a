//! A minimal WebDriver client (Debian's `chromium` + `chromium-driver`) for browser tests: start
//! chromedriver on a free port, open a headless session, navigate, type, click, read, screenshot.
//!
//! Where Chromium cannot be had, a browser test prints why and passes without running, except
//! under CI (`CI=true`), where it fails: CI must run it.

use base64::Engine as _;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

/// Whether this is a CI run (`CI=true`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A browser test that cannot run: fails under CI, else prints why and is skipped.
fn unavailable(reason: &str) -> Option<Browser> {
    unavailable_in(reason, in_ci())
}

fn unavailable_in(reason: &str, ci: bool) -> Option<Browser> {
    assert!(
        !ci,
        "CI=true but the browser test cannot run: {reason}. CI runs the browser tests (.ci/run \
         installs Debian's chromium and chromium-driver), so this test fails rather than pass \
         without running"
    );
    eprintln!("skipped: {reason}; install Debian's chromium and chromium-driver to run browser tests (.ci/run does)");
    None
}

/// `None` (with the reason printed) when Chromium or ChromeDriver is not installed here or does
/// not start.
///
/// # Panics
/// Instead of `None` when `CI=true`.
pub async fn launch(width: u32, height: u32) -> Option<Browser> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let driver_bin = ["/usr/bin/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let (Some(chromium), Some(driver_bin)) = (chromium, driver_bin) else {
        return unavailable("/usr/bin/chromium or /usr/bin/chromedriver is missing");
    };
    let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => return unavailable(&format!("no free port for chromedriver: {e}")),
    };
    let driver = match Command::new(driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(driver) => driver,
        Err(e) => return unavailable(&format!("{driver_bin} does not start: {e}")),
    };
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    // From here on `browser` owns chromedriver: dropping it (an early return) stops it.
    let mut browser = Browser {
        driver,
        base,
        session: String::new(),
        http,
    };
    let base = browser.base.clone();
    while browser
        .http
        .get(format!("{base}/status"))
        .send()
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            return unavailable("chromedriver did not answer within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let profile = std::env::temp_dir().join(format!("cartback-chrome-{port}"));
    // `goog:loggingPrefs`: chromedriver keeps the page's console (`console_errors`).
    let caps = json!({ "capabilities": { "alwaysMatch": {
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
        "binary": chromium,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 format!("--user-data-dir={}", profile.display()), format!("--window-size={width},{height}")]
    } } } });
    let resp: Value = match browser
        .http
        .post(format!("{base}/session"))
        .json(&caps)
        .send()
        .await
    {
        Ok(resp) => resp.json().await.unwrap_or_default(),
        Err(e) => return unavailable(&format!("chromedriver refused a session: {e}")),
    };
    let Some(session) = resp["value"]["sessionId"].as_str() else {
        return unavailable(&format!("Chromium did not start a session: {resp}"));
    };
    browser.session = session.to_string();
    // Element look-ups wait up to 5 s for the page (navigation after a form submit).
    let _ = browser
        .http
        .post(format!("{base}/session/{}/timeouts", browser.session))
        .json(&json!({ "implicit": 5000, "pageLoad": 20000 }))
        .send()
        .await;
    Some(browser)
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver answers")
            .json()
            .await
            .expect("webdriver JSON");
        assert!(v["value"].get("error").is_none(), "webdriver {path}: {v}");
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Reloads the current page; returns once the new page has loaded (WebDriver's refresh).
    pub async fn refresh(&self) {
        self.call(reqwest::Method::POST, "/refresh", Some(json!({})))
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    pub async fn count(&self, css: &str) -> usize {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_array().map(Vec::len).unwrap_or(0)
    }

    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Evaluates JavaScript in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// The browser console's errors (level `SEVERE`: script errors, refused loads such as a
    /// Content-Security-Policy violation, failed requests such as a missing `/favicon.ico`) since
    /// the last call, across page loads.
    pub async fn console_errors(&self) -> Vec<String> {
        let entries = self
            .call(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Saves a PNG screenshot.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    pub async fn close(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// `<workspace>/target/<name>`: where browser tests leave their screenshots.
pub fn artifact(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join(name)
}

#[cfg(test)]
mod tests {
    use super::unavailable_in;

    #[test]
    #[should_panic(expected = "CI=true but the browser test cannot run")]
    fn a_missing_browser_fails_under_ci() {
        let _ = unavailable_in("/usr/bin/chromium is missing", true);
    }

    #[test]
    fn a_missing_browser_is_skipped_elsewhere() {
        assert!(unavailable_in("/usr/bin/chromium is missing", false).is_none());
    }
}
