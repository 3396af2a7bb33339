mod determinism;
mod seeds;
