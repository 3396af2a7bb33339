mod determinism;
mod seeds;
mod bugs;
