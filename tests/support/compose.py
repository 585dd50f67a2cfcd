"""Compose files as Compose itself reads them (no re-implementation).

What a test checks of a compose file is what Compose makes of it: the
variables interpolated (`${VAR:-default}`, `${VAR-default}`, `${VAR}`), YAML
anchors and merge keys resolved, the short syntax in its long form (volumes
and ports as mappings, memory in bytes, file paths absolute). Two renderers:

- config(): `docker compose config` (v2) or `docker-compose config` (v1.29),
  for the files `docker compose up` reads (compose.yaml, compose.dev.yaml);
  they work with both, and Compose reads the `.env` of their folder;
- stack_config(): `docker stack config`, the loader of `docker stack deploy`
  itself, for compose/stack.yaml. docker-compose 1.29 cannot render that
  file (its schema has no `deploy.resources.limits.pids`), and `docker stack
  deploy` reads no `.env`: only this loader says what a deploy gets.

Both take the variables to set (`env`); `clean=True` renders with those
alone (plus what the client itself needs: PATH, HOME, DOCKER_*), so a
variable of the caller's shell cannot change what a default test sees.
A file Compose refuses raises ComposeError with Compose's own message.

Env: COMPOSE (the compose command, e.g. "docker-compose"; default "docker
compose" where it exists, else docker-compose), DOCKER (docker).
"""
import os
import shlex
import shutil
import subprocess

import yaml

# what the docker and compose clients need to run at all
_CLIENT_VARS = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG",
                "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY")
# variables that change which files and project Compose reads
_COMPOSE_VARS = ("COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME",
                 "COMPOSE_PATH_SEPARATOR", "COMPOSE_ENV_FILES")


class ComposeError(Exception):
    """Compose refused a file (the message is its own, with the command)."""


def docker():
    """The docker client to run, as a list (env DOCKER, default docker)."""
    return shlex.split(os.environ.get("DOCKER") or "docker")


_command = None


def command():
    """The compose command as a list: $COMPOSE, else `docker compose` (v2)
    if the docker client has it, else `docker-compose` (v1.29); None when
    there is neither."""
    global _command
    if _command is None:
        if os.environ.get("COMPOSE"):
            _command = shlex.split(os.environ["COMPOSE"])
        elif subprocess.run(docker() + ["compose", "version"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode == 0:
            _command = docker() + ["compose"]
        elif shutil.which("docker-compose"):
            _command = ["docker-compose"]
        else:
            return None
    return list(_command)


def environment(env=None, clean=False):
    """The environment to run a client with: the caller's (without the
    COMPOSE_* variables that select files, profiles or the project) or,
    with CLEAN, only what the client needs; then ENV."""
    if clean:
        e = {k: os.environ[k] for k in _CLIENT_VARS if k in os.environ}
    else:
        e = {k: v for k, v in os.environ.items() if k not in _COMPOSE_VARS}
    e.update(env or {})
    return e


def _render(args, cwd, env, clean, what):
    p = subprocess.run(args, cwd=cwd, env=environment(env, clean),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        raise ComposeError(f"{what}: {' '.join(args)} (in {cwd}) exit "
                           f"{p.returncode}: {p.stderr.strip()}")
    return yaml.safe_load(p.stdout)


def config(files, env=None, clean=False, profiles=(), project=None):
    """FILES (paths; the first one's folder is the project folder, whose
    .env Compose reads) as `compose config` renders them, as a dict."""
    files = [os.path.abspath(f) for f in files]
    cmd = command()
    if cmd is None:
        raise ComposeError("neither docker compose nor docker-compose is "
                           "installed")
    args = cmd + [a for f in files for a in ("-f", f)]
    if project:
        args += ["-p", project]
    args += [a for p in profiles for a in ("--profile", p)] + ["config"]
    return _render(args, os.path.dirname(files[0]), env, clean,
                   " + ".join(os.path.basename(f) for f in files))


def stack_config(file, env=None, clean=False):
    """FILE as `docker stack deploy` reads it (`docker stack config`), as a
    dict; relative paths are resolved against FILE's folder."""
    file = os.path.abspath(file)
    args = docker() + ["stack", "config", "-c", file]
    return _render(args, os.path.dirname(file), env, clean,
                   os.path.basename(file))
