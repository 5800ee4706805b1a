// sltune: measures a tile sweep (`slc compile --tuning-sweep`, docs/tuning.md) on the device it
// runs on. For every tile problem of the sweep it runs the heuristic's candidate as the reference,
// checks every other candidate's output against it, times each (median device time of repeated
// calls) and appends one JSON line per candidate to the output: the tuning database that
// `slc compile --tuning-db` (or `--gpu`) reads. A candidate already in the output for this GPU is
// not measured again, so an interrupted sweep resumes where it stopped.
#pragma once

namespace sl::runtime {

int tuneCommand(int argc, char **argv);

}  // namespace sl::runtime
