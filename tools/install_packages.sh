#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet (apt as
# root, or through sudo). Used by tools/build.sh and tools/fuzz.sh.
#   tools/install_packages.sh WHO PACKAGE...   (WHO prefixes the message, e.g. "build.sh")
set -euo pipefail
who=$1
shift
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
((${#missing[@]})) || exit 0
echo "$who: installing missing packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
