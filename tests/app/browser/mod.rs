//! Real-browser tests (issue 5): Debian's Chromium, headless, driven through
//! chromedriver with fantoccini, against the real server and SMTP sink.
//!
//! Every page a tour visits is audited in the browser (every visible input has
//! a label, ARIA references resolve, one h1, readable contrast, no sideways
//! scrolling on a phone, no console errors, the page is in the tour's language
//! and a Dutch page shows no English), and the pages named in a tour are
//! photographed at 1280 px (desktop) and 390 px (phone) into
//! `target/screenshots/`, with an `index.html` that shows them side by side.
//!
//! They need chromium and chromedriver, so a plain `cargo test` lists them as
//! ignored with that reason; `cargo test -- --include-ignored` (and `.ci/run`)
//! runs them, and then a missing chromedriver fails them.
//!
//! `harness` starts chromedriver and holds the `Browser` helpers, the page
//! audit (`audit.js`), the screenshots and their index; the tours use it.

mod admin_tours;
mod bulk_tour;
mod grid_tour;
mod harness;
mod security_tours;
mod storefront_tours;
mod two_factor_tour;

const PASSWORD: &str = "Tulip-garden-42";
const NEW_PASSWORD: &str = "Windmill-cheese-77";
