"""Tab completion for the whole `fcnn` command, in bash, zsh and fish.

`fcnn completion SHELL` prints a script to source. On every <TAB>, the script hands the command
line up to the cursor (as COMP_LINE) to `fcnn completion --query SHELL`, which answers:

- the subcommands, the top-level flags, and the flags, actions and values of the plain
  subcommands (`data`, `report`, `evaluate`, `predict`, `completion`), read from their own
  argparse parsers;
- for the Hydra apps (`train`, `bench`): Hydra's own flags from Hydra's argument parser, and
  for everything else (groups, options, keys, nested keys, files after `key=./`) Hydra's own
  completion plugin for that shell, reached through the app's `-sc query=SHELL`, given the line
  without the subcommand as Hydra expects for a one-app program.

It prints one candidate per line (Hydra's bash/zsh plugin: space-separated); an empty answer
lets the shell complete file names. A candidate ending in `=`, `.` or `/` is unfinished: the
shell adds no space after it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable, Sequence

from fcnn_cli import commands
from fcnn_cli.commands import COMMANDS, hydra_apps, plain_commands

SHELLS = ("bash", "zsh", "fish")
TOP_FLAGS = ("--help", "--version")

# bash: readline replaces only the text after the last COMP_WORDBREAKS character (`=`, `:`, ...)
# of the word, so the candidates are trimmed to that part; unfinished ones get no space.
BASH_SCRIPT = r"""# fcnn tab completion for bash:  source <(fcnn completion bash)
_fcnn_complete() {
    local line=${COMP_LINE:0:COMP_POINT}
    local cur=${line##*[[:space:]]}
    local breaks=${COMP_WORDBREAKS//[[:space:]]/}
    local word=$cur c
    while [[ -n $breaks ]]; do
        word=${word##*"${breaks:0:1}"}
        breaks=${breaks:1}
    done
    local strip=$(( ${#cur} - ${#word} ))
    local cmd=${COMP_WORDS[0]}
    [[ $cmd == "~/"* ]] && cmd=$HOME/${cmd:2}
    local -a cands
    IFS=$' \t\n' read -r -d '' -a cands \
        < <(COMP_LINE="$line" "$cmd" completion --query bash 2>/dev/null)
    COMPREPLY=()
    for c in "${cands[@]}"; do
        [[ $c == "$cur"* ]] && COMPREPLY+=("${c:strip}")
    done
    # A finished word gets its space; `backend=`, `optimizer.`, `dir/` wait for more.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} != *[=./] ]]; then
        COMPREPLY[0]+=" "
    fi
}
complete -o nospace -o default -F _fcnn_complete fcnn
# Fill the answer cache in the background, so that the first <TAB>s are quick too.
command -v fcnn >/dev/null && (fcnn completion --warm bash >/dev/null 2>&1 &)
"""

ZSH_SCRIPT = r"""# fcnn tab completion for zsh:  source <(fcnn completion zsh)  (after compinit)
_fcnn() {
    local line="${(j: :)${(@)words[1,CURRENT-1]}} ${PREFIX}"
    local -a cands unfinished
    cands=(${=$(COMP_LINE="$line" ${~words[1]} completion --query zsh 2>/dev/null)})
    if (( ${#cands} == 0 )); then
        _files
        return
    fi
    unfinished=(${(M)cands:#*[=./]})
    cands=(${cands:#*[=./]})
    (( ${#unfinished} )) && compadd -S '' -- "${unfinished[@]}"
    (( ${#cands} )) && compadd -- "${cands[@]}"
    return 0
}
compdef _fcnn fcnn
# Fill the answer cache in the background, so that the first <TAB>s are quick too.
(( $+commands[fcnn] )) && (fcnn completion --warm zsh >/dev/null 2>&1 &)
"""

FISH_SCRIPT = r"""# fcnn tab completion for fish:  fcnn completion fish | source
function __fcnn_complete
    set -l tokens (commandline -opc)
    set -l cands (env COMP_LINE=(commandline -cp) $tokens[1] completion --query fish 2>/dev/null)
    if test (count $cands) -eq 0
        __fish_complete_path (commandline -ct)
    else
        printf '%s\n' $cands
    end
end
complete -c fcnn -f -a '(__fcnn_complete)'
"""

SCRIPTS = {"bash": BASH_SCRIPT, "zsh": ZSH_SCRIPT, "fish": FISH_SCRIPT}
UNINSTALL = {
    "bash": "complete -r fcnn; unset -f _fcnn_complete\n",
    "zsh": "compdef -d fcnn; unfunction _fcnn\n",
    "fish": "complete -e -c fcnn; functions -e __fcnn_complete\n",
}


def script(shell: str) -> str:
    """The completion script for `shell` (bash, zsh or fish)."""
    return SCRIPTS[shell]


# --- what to complete ---------------------------------------------------------------------------

def _plain_parsers() -> dict[str, Callable[[], argparse.ArgumentParser]]:
    """The argparse parser of each plain subcommand, from the command table (light modules:
    no jax, no scikit-learn)."""
    return {name: COMMANDS[name].load().build_parser for name in plain_commands()}


def _value_hints() -> dict[tuple[str, str], Sequence[str]]:
    """Values of options that argparse checks by hand rather than through `choices`."""
    from fcnn_cli.commands.report.collect import COLUMN_KEYS

    return {("report", "--sort"): COLUMN_KEYS}


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0 and not isinstance(action, argparse._SubParsersAction)


def _option_values(command: str, action: argparse.Action) -> list[str]:
    """The values an option takes: its choices, a hint, or [] (a free value: file names)."""
    if action.choices is not None:
        return [str(c) for c in action.choices]
    hints = _value_hints()
    for option in action.option_strings:
        if (command, option) in hints:
            return list(hints[(command, option)])
    return []


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings}


def complete_argparse(command: str, parser: argparse.ArgumentParser, before: Sequence[str],
                      word: str) -> list[str]:
    """Candidates for `word` after the arguments `before`, read from `parser` and its
    subparsers: option names, an option's values, subcommand names; [] for a free value."""
    options = _options(parser)
    subparsers = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
                      None)
    positionals = [a for a in parser._actions if not a.option_strings and a is not subparsers]
    pending: argparse.Action | None = None
    filled = 0
    for i, arg in enumerate(before):
        if pending is not None:
            pending = None
        elif arg.startswith("-"):
            action = options.get(arg)
            pending = action if action is not None and _takes_value(action) else None
        elif subparsers is not None and arg in subparsers.choices:
            return complete_argparse(command, subparsers.choices[arg], before[i + 1:], word)
        else:
            filled += 1
    if pending is not None:
        return _option_values(command, pending)
    if word.startswith("-") and "=" in word:  # --sort=te
        name = word.split("=", 1)[0]
        action = options.get(name)
        return [f"{name}={v}" for v in _option_values(command, action)] if action else []
    if word.startswith("-"):
        return list(options)
    if subparsers is not None:
        return list(subparsers.choices)
    # The next positional argument (one taking many values stays the next one).
    if positionals:
        action = positionals[min(filled, len(positionals) - 1)]
        if filled < len(positionals) or action.nargs in ("*", "+", argparse.REMAINDER):
            return _option_values(command, action)
    return []


def _hydra_flags(before: Sequence[str], word: str) -> list[str] | None:
    """Hydra's own flags (`--cfg job`, `--info`, `-m`, ...), read from Hydra's argument parser;
    None when the word is an override, which Hydra's completion plugin answers."""
    if not word.startswith("-") and not (before and before[-1].startswith("-")):
        return None
    from fcnn_cli.hydra_app.private_hydra import args_parser as get_args_parser

    options = _options(get_args_parser())
    previous = options.get(before[-1]) if before else None
    if previous is not None and _takes_value(previous):
        return _option_values("hydra", previous)
    return list(options) if word.startswith("-") else None


def query(line: str) -> list[str] | None:
    """Candidates for the last word of `line` (the command line up to the cursor); None for a
    Hydra app's override, which Hydra's completion plugin answers (see `answer`)."""
    words = line.split()
    if line[-1:].isspace() or not words:
        words.append("")
    word, before = words[-1], words[1:-1]
    if not before:
        found: list[str] | None = list(TOP_FLAGS) if word.startswith("-") else [
            *COMMANDS]
    elif before[0] in hydra_apps():
        found = _hydra_flags(before[1:], word)
    elif before[0] in (parsers := _plain_parsers()):
        found = complete_argparse(before[0], parsers[before[0]](), before[1:], word)
    else:
        found = []
    return None if found is None else [c for c in found if c.startswith(word)]


def hydra_line(line: str) -> str:
    """`fcnn train -m back` -> `fcnn -m back`: the line a Hydra app's completion plugin expects
    (it drops the program's name, and would read the subcommand as a malformed override)."""
    match = re.match(r"\s*\S+\s+\S+", line)
    return line if match is None else "fcnn" + line[match.end():]


def answer(line: str, shell: str) -> None:
    """Print the candidates for `line`: ours one a line, or a Hydra app's from Hydra's plugin
    (through completion_cache, which spares most <TAB>s Hydra's start-up)."""
    from fcnn_cli.commands import completion_cache

    candidates = query(line)
    if candidates is not None:
        print("\n".join(candidates))
        return
    app = line.split()[1]
    full = hydra_line(line)
    word = "" if full[-1:].isspace() else full.split()[-1]
    found = completion_cache.candidates(app, shell, full[:len(full) - len(word)], word,
                                        lambda hydra: _ask_hydra(app, hydra, shell))
    # Hydra's plugins answer one a line for fish, space-separated for bash and zsh.
    print(("\n" if shell == "fish" else " ").join(found))


def warm(shell: str) -> None:
    """Ask Hydra, in this one process, what a first <TAB> on each app most often needs: the
    top-level words, +/~ and every group's options and nested keys; a warm cache asks nothing."""
    from fcnn_cli.commands import completion_cache

    for app in hydra_apps():
        def ask(line: str, app: str = app) -> list[str]:
            return _ask_hydra(app, line, shell)

        first = completion_cache.candidates(app, shell, "fcnn ", "", ask)
        for stem in ["+", "~", *(c for c in first if c.endswith((".", "=")))]:
            completion_cache.candidates(app, shell, "fcnn ", stem, ask)


def _ask_hydra(app: str, line: str, shell: str) -> list[str]:
    """Hydra's completion plugin's candidates for the Hydra line `line` of app `app`."""
    import io

    os.environ["COMP_LINE"] = line
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        commands.run(app, ["--shell-completion", f"query={shell}"])
    return out.getvalue().split()


def _shell_completion_request(args: Sequence[str]) -> tuple[str, str] | None:
    """(action, shell) of a Hydra app's `-sc install|uninstall|query=SHELL`, else None."""
    if not any(a in ("-sc", "--shell-completion") for a in args):
        return None
    for arg in args:
        match = re.fullmatch(r"(install|uninstall|query)=(\S+)", arg)
        if match:
            return match.group(1), match.group(2)
    return None


def handle_hydra_flag(command: str, args: Sequence[str]) -> bool:
    """Hydra's `-sc` for a subcommand: `install=SHELL` prints fcnn's whole script, `uninstall`
    its removal; `query` gets the line Hydra expects. True when nothing is left to run."""
    request = _shell_completion_request(args)
    if request is None:
        return False
    action, shell = request
    if shell not in SHELLS:
        from fcnn_cli.errors import UsageError

        raise UsageError.line(f"shell completion: unknown shell {shell!r}; choose one of {', '.join(SHELLS)}")
    if action == "query":
        os.environ["COMP_LINE"] = hydra_line(os.environ.get("COMP_LINE", f"fcnn {command} "))
        return False
    sys.stdout.write(script(shell) if action == "install" else UNINSTALL[shell])
    return True


# --- the command --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from fcnn_cli.commands._argparse import Parser

    parser = Parser(
        prog="fcnn completion",
        description="Print the tab-completion script for SHELL. Turn it on with: "
                    "bash: source <(fcnn completion bash); zsh: source <(fcnn completion zsh); "
                    "fish: fcnn completion fish | source",
    )
    parser.add_argument("shell", nargs="?", choices=SHELLS, help="bash, zsh or fish")
    parser.add_argument("--query", choices=SHELLS, help=argparse.SUPPRESS)
    parser.add_argument("--warm", choices=SHELLS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str]) -> int:
    """`fcnn completion SHELL`; `fcnn completion --query SHELL` answers one <TAB>."""
    args = build_parser().parse_args(argv)
    if args.warm:
        warm(args.warm)
        return 0
    if args.query:
        # A line Hydra cannot parse completes to nothing (its message goes to stderr, which
        # the scripts discard).
        with contextlib.suppress(SystemExit):
            answer(os.environ.get("COMP_LINE") or "fcnn ", args.query)
        return 0
    if args.shell is None:
        from fcnn_cli.errors import UsageError

        raise UsageError.line(f"completion: name a shell: {', '.join(SHELLS)}")
    sys.stdout.write(script(args.shell))
    return 0
