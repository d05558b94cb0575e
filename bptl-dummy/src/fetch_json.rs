//! `fetch_json`: placeholder until the credentials work lands.
