.PHONY: package package-clean

# Build dist/Rollcall (PyInstaller, build.spec) and run its --self-test outside the source tree.
package:
	scripts/package.sh

package-clean:
	rm -rf build/ dist/
