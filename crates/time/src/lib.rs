//! sockit-time: strftime over UDP, daytime, time and SNTP.
//!
//! Not built yet: see issue "Time service".
