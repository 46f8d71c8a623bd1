#!/bin/sh
# Idempotent plumbing of the lab network, for the local_lab role (iproute2 has no Ansible
# module). Each command prints "changed" when it altered something, nothing otherwise.
#   lab-link.sh bridge BRIDGE ADDRESS/PREFIX
#   lab-link.sh netns  NAMESPACE BRIDGE ADDRESS/PREFIX
#   lab-link.sh unreachable RANGE        (a route that keeps RANGE on this machine)
#   lab-link.sh delete NAMESPACE-OR-BRIDGE...
set -eu

say_changed() { echo changed; }

ensure_bridge() {
  bridge=$1 cidr=$2
  if ! ip link show dev "$bridge" >/dev/null 2>&1; then
    ip link add name "$bridge" type bridge
    say_changed
  fi
  if ! ip -o addr show dev "$bridge" | grep -qw "inet $cidr"; then
    ip addr add "$cidr" dev "$bridge"
    say_changed
  fi
  if ! ip -o link show dev "$bridge" | grep -q '[<,]UP[,>]'; then
    ip link set dev "$bridge" up
    say_changed
  fi
}

ensure_netns() {
  ns=$1 bridge=$2 cidr=$3
  # Host side of the veth pair: interface names are limited to 15 characters.
  host_if=$(printf 'wl-%s' "$ns" | cut -c1-15)
  if ! ip netns list | grep -qw "^$ns"; then
    ip netns add "$ns"
    say_changed
  fi
  if ! ip link show dev "$host_if" >/dev/null 2>&1; then
    ip link add name "$host_if" type veth peer name eth0 netns "$ns"
    say_changed
  fi
  if ! ip -o link show dev "$host_if" | grep -q "master $bridge "; then
    ip link set dev "$host_if" master "$bridge"
    say_changed
  fi
  if ! ip -o link show dev "$host_if" | grep -q '[<,]UP[,>]'; then
    ip link set dev "$host_if" up
    say_changed
  fi
  if ! ip -n "$ns" -o addr show dev eth0 | grep -qw "inet $cidr"; then
    ip -n "$ns" addr add "$cidr" dev eth0
    say_changed
  fi
  for dev in lo eth0; do
    if ! ip -n "$ns" -o link show dev "$dev" | grep -q '[<,]UP[,>]'; then
      ip -n "$ns" link set dev "$dev" up
      say_changed
    fi
  done
}

ensure_unreachable() {
  range=$1
  if [ -z "$(ip route show type unreachable "$range")" ]; then
    ip route add unreachable "$range"
    say_changed
  fi
}

delete() {
  for name in "$@"; do
    if ip netns list | grep -qw "^$name"; then
      ip netns delete "$name"
      say_changed
    fi
    if ip link show dev "$name" >/dev/null 2>&1; then
      ip link delete dev "$name"
      say_changed
    fi
  done
}

cmd=$1
shift
case "$cmd" in
  bridge) ensure_bridge "$@" ;;
  netns) ensure_netns "$@" ;;
  unreachable) ensure_unreachable "$@" ;;
  delete) delete "$@" ;;
  *) echo "unknown command: $cmd" >&2; exit 2 ;;
esac
