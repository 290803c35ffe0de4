//! Rule tests kept next to a fund's script.
