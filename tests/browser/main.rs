//! Browser tests in real headless Chromium (written next).
