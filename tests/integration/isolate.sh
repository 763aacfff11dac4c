#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# isolate.sh PROGRAM [ARG]...: run an integration test in a network
# namespace of its own, with only a loopback interface.
#
# Why: the tests bind fixed relay-port ranges and addresses on 127.0.0.x.
# In the host's namespace they collide with anything else there: the
# other build's run of the same suite, a benchmark, an sbc or Kamailio a
# developer left on 5060. In a private namespace the only traffic is the
# test's own, so both builds' suites may run at once and nothing on the
# host can change a result. Tests that build network namespaces of their
# own (dpdk, callflows-dpdk) work the same from inside one.
#
# Needs CAP_SYS_ADMIN (root). Without it (a developer's unprivileged run)
# the test runs in the current namespace as before.
if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
	exec unshare --net sh -c 'ip link set lo up && exec "$0" "$@"' "$@"
fi
exec "$@"
