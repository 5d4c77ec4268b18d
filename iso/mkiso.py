#!/usr/bin/env python3
"""ISO recipe: lays out the kernel, the boot manifest, every ring-3 program and grub.cfg, then
grub-mkrescue builds one image that boots under BIOS (i386-pc) and UEFI (x86_64-efi). Each
program becomes the Multiboot2 module named after it; the manifest says which ones init starts.

  mkiso.py OUT.iso KERNEL MANIFEST GRUB_CFG_IN NAME=PROGRAM... [NAME-manifest=MANIFEST...]
"""
import os
import shutil
import subprocess
import sys
import tempfile


def check_manifest(path, programs):
    """Every `start NAME` line must name a program of the build."""
    for number, line in enumerate(open(path), 1):
        fields = line.split("#", 1)[0].split()
        if fields and fields[0] == "start" and (len(fields) < 2 or fields[1] not in programs):
            sys.exit(f"{path}:{number}: 'start' names no program of the build: {line.strip()!r}")


def main(out, kernel, manifest, cfg_in, *program_args):
    programs = dict(arg.split("=", 1) for arg in program_args)
    check_manifest(manifest, programs)
    # Other manifests (named NAME-manifest: the guest tests' own, init=manifest=NAME) go in as
    # they are, checked the same way.
    for name, path in programs.items():
        if name.endswith("-manifest"):
            check_manifest(path, programs)
    modules = [("boot/manifest", "manifest")]
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "boot", "grub"))
        os.makedirs(os.path.join(root, "boot", "bin"))
        shutil.copy(kernel, os.path.join(root, "boot", "exo-kernel"))
        shutil.copy(manifest, os.path.join(root, "boot", "manifest"))
        for name, path in sorted(programs.items()):
            # Without debug sections: boot modules stay in RAM for the machine's life.
            # A deliberately malformed module, which objcopy refuses, goes in as it is.
            dest = os.path.join(root, "boot", "bin", name)
            stripped = not name.endswith("-manifest") and subprocess.run(
                ["objcopy", "--strip-debug", path, dest + ".tmp"],
                capture_output=True).returncode == 0
            if stripped:
                os.rename(dest + ".tmp", dest)
            else:
                shutil.copy(path, dest)
            modules.append((f"boot/bin/{name}", name))
        lines = "\n".join(f"    module2 /{path} {name}" for path, name in modules)
        cfg = open(cfg_in).read().replace("@MODULES@", lines).replace("@DEFAULT_CMDLINE@", "")
        with open(os.path.join(root, "boot", "grub", "grub.cfg"), "w") as f:
            f.write(cfg)
        result = subprocess.run(["grub-mkrescue", "-o", out, root], capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            sys.exit(f"grub-mkrescue failed ({result.returncode}): is grub-pc-bin, "
                     "grub-efi-amd64-bin, xorriso and mtools installed? (./exo installs them)")


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
