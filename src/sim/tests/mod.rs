mod bugs;
mod cli;
mod coverage;
mod determinism;
mod driver;
mod scenarios;
mod seeds;
mod storage;
