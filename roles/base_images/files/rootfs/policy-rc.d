#!/bin/sh
# No service starts while packages are installed: there is no init in a container, and while
# the root file system is made in a chroot a service would start on the build machine.
exit 101
