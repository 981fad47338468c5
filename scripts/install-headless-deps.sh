#!/usr/bin/env bash
# System libraries that napari (Qt 6 + vispy's OpenGL) needs on a headless
# Debian/Ubuntu machine: a virtual X server, Mesa's software GL and the xcb
# libraries of Qt's X11 platform plugin. Run as root (or with sudo).
set -euo pipefail
packages=(
  xvfb libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0
  libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xinput0
  libxcb-xfixes0 libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1
)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
