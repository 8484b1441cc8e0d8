"""``loda profiles {list,rename,delete,activate,rollback}``: manage model profiles (:mod:`loda_desktop.model_store`).

Names are shown with their control characters escaped (:func:`loda_desktop.text.printable`)."""

from __future__ import annotations

import argparse


def cmd_profiles(args: argparse.Namespace) -> int:
    from .. import model_store as admin
    from ..text import printable as pr

    if args.action == "list":
        for p in admin.list_profiles():
            marks = ("*" if p.active else " ") + ("b" if p.bundled else " ")
            shown = ", ".join(f"{pr(k)} {v:.3f}" for k, v in p.metrics.items() if isinstance(v, int | float))
            parent = f"  parent {pr(p.parent)}" if p.parent else ""
            print(f"{marks} {pr(p.name):<24} {pr(p.config):<20} {pr(p.kind):<8}{parent}{'  ' + shown if shown else ''}")
        for path, reason in admin.list_broken():
            print(f"  {pr(path.name):<24} BROKEN: {pr(reason)}  (loda profiles delete {pr(path.name)})")
        print(f"active: {pr(admin.active_name())}  (* active, b bundled)")
    elif args.action == "rename":
        print(f"renamed to {pr(admin.rename_profile(args.name, args.new_name))}")
    elif args.action == "delete":
        now = admin.delete_profile(args.name)
        print(f"moved {pr(args.name)} to the trash" + (f"; the active model is now {pr(now)}" if now else ""))
    elif args.action == "activate":
        print(f"active model: {pr(admin.activate(args.name).name)}")
    elif args.action == "rollback":
        print(f"rolled back; active model: {pr(admin.rollback().name)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profiles", help="list, rename, delete, activate or roll back model profiles")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="profiles in the models folders; * marks the active one")
    a = actions.add_parser("rename", help="rename a profile you trained")
    a.add_argument("name")
    a.add_argument("new_name")
    a = actions.add_parser(
        "delete", help="move a profile you trained (or a broken file, by its file name) to the system trash"
    )
    a.add_argument("name")
    a = actions.add_parser("activate", help="make a profile (or config) the active model")
    a.add_argument("name")
    actions.add_parser("rollback", help="make the active profile's parent the active model")
    p.set_defaults(func=cmd_profiles)
