// `slrun chat` (interactive terminal chat) and `slrun serve` (OpenAI-compatible HTTP server).
#pragma once

namespace sl::server {
// argv holds the command's options only (after "slrun chat" / "slrun serve").
int chatCommand(int argc, char **argv);
int serveCommand(int argc, char **argv);
}  // namespace sl::server
