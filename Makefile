.PHONY: package deb package-clean

# Build dist/Rollcall (PyInstaller, build.spec) and run its --self-test outside the source tree.
EDITION ?= full

# EDITION=kiosk: the kiosk edition (no torch, no trainer). `make deb EDITION=kiosk`: also the .deb.
package:
	EDITION=$(EDITION) scripts/package.sh

deb:
	EDITION=$(EDITION) PACKAGE_DEB=1 scripts/package.sh

package-clean:
	rm -rf build/ dist/
