"""The settings form: every RunConfig setting as a widget in its group's column."""
from __future__ import annotations

import streamlit as st

from alexnet_explorer.config import GROUPS, RunConfig, Setting, setting_type, settings


def setting_key(name: str) -> str:
    """The session-state key of a RunConfig setting's widget in the settings form."""
    return f"cfg_{name}"


def fill_settings(config: RunConfig) -> None:
    """Put a configuration's values into the settings form's widgets."""
    for name, value in config.to_dict().items():
        # number_input takes its type from its value: a float setting must hold 0.0, not 0
        st.session_state[setting_key(name)] = float(value) if setting_type(name) is float else value


def settings_missing() -> bool:
    """Whether some setting's widget has no value: a first visit, or Streamlit dropped them while another page
    was shown."""
    return any(setting_key(name) not in st.session_state for name in settings())


def settings_form(disabled: bool = False) -> dict[str, object]:
    """Every RunConfig setting as a widget in its group's column, in a box; the values by setting name (``disabled``:
    shown but not editable)."""
    values = {}
    with st.container(border=True):
        for column, (group, note) in zip(st.columns(len(GROUPS)), GROUPS.items()):
            with column:
                st.markdown(f"**{group}**" + f" ({note})" * bool(note))
                for name, described in settings().items():
                    if described.group == group:
                        values[name] = _setting_widget(name, described, disabled)
    return values


def _setting_widget(name: str, described: Setting, disabled: bool) -> object:
    key, kind = setting_key(name), setting_type(name)
    if described.choices is not None:
        names = described.choices()
        return st.radio(described.label, list(names), format_func=names.get, horizontal=True, key=key,
                        help=described.help, disabled=disabled)
    if described.offered is not None:
        return st.selectbox(described.label, described.offered(), key=key, help=described.help, disabled=disabled)
    if kind is bool:
        return st.toggle(described.label, key=key, help=described.help, disabled=disabled)
    return st.number_input(described.label, step=described.step, format=described.format,
                           placeholder=described.placeholder, key=key, help=described.help, disabled=disabled)
