//! sockit-transfer: verified, resumable file transfer.
//!
//! Not built yet: see issue "File transfer".
