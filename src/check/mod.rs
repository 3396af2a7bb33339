//! Checkers that judge what a cluster did.
