mod bugs;
mod coverage;
mod determinism;
mod seeds;
