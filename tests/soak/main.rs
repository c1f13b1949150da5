//! Fault soak (written next).
