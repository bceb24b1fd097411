//! sockit-http: a static site server with directory listings and templates.
//!
//! Not built yet: see issue "Static HTTP server".
