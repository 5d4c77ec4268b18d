#!/usr/bin/env python3
"""ISO recipe: lays out the kernel, the manifest's modules and grub.cfg, then grub-mkrescue
builds one image that boots under BIOS (i386-pc) and UEFI (x86_64-efi).

  mkiso.py OUT.iso KERNEL MANIFEST GRUB_CFG_IN SOURCE_ROOT
"""
import os
import shutil
import subprocess
import sys
import tempfile


def parse_manifest(path):
    modules = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 2:
                sys.exit(f"{path}:{number}: expected '<path> <name>', got {line!r}")
            modules.append((fields[0], fields[1]))
    return modules


def main(out, kernel, manifest, cfg_in, source_root):
    modules = [("boot/manifest", "manifest")] + parse_manifest(manifest)
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "boot", "grub"))
        shutil.copy(kernel, os.path.join(root, "boot", "exo-kernel"))
        shutil.copy(manifest, os.path.join(root, "boot", "manifest"))
        for path, _ in modules[1:]:
            dest = os.path.join(root, path)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(os.path.join(source_root, path), dest)
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
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
