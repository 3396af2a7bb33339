mod bugs;
mod cli;
mod coverage;
mod determinism;
mod scenarios;
mod seeds;
mod storage;
