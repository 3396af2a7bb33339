mod bugs;
mod coverage;
mod determinism;
mod scenarios;
mod seeds;
