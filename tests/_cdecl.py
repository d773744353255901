"""C declarations as a C front end (castxml) sees them, and how they line up
with ctypes types.  Used by test_conformance.py.

castxml writes every declaration of a translation unit as XML, with each
type as an element that refers to others by id.  :class:`Declarations`
reads that file and resolves a type id into a :class:`CType`: typedefs,
``const``/``volatile`` and ``struct`` keywords stripped, so what is left is
what matters to the calling convention.  :func:`compare` then checks one
ctypes type against one CType and says in words what differs.
"""

import ctypes
import subprocess
import xml.etree.ElementTree as ElementTree

# ctypes' simple integer type codes
_SIGNED = "bhilq"
_UNSIGNED = "BHILQ"


class CType:
    """One C type after stripping typedefs and qualifiers.

    ``kind`` is one of: void, bool, char, int, enum, float, double,
    long double, pointer, record, function, array, other.  ``spelling`` is
    how the header wrote it (the typedef name where there was one), for
    messages.
    """

    def __init__(self, kind, spelling, **attrs):
        self.kind = kind
        self.spelling = spelling
        self.size = attrs.get("size")  # bytes, None if unknown/incomplete
        self.signed = attrs.get("signed")  # integers and enums
        self.target = attrs.get("target")  # pointer, array: the element
        self.length = attrs.get("length")  # array
        self.tag = attrs.get("tag")  # record: struct/union tag ("" if none)
        self.names = attrs.get("names", ())  # record: tag + typedef names
        self.complete = attrs.get("complete", True)  # record
        self.ret = attrs.get("ret")  # function
        self.args = attrs.get("args", ())  # function: CTypes
        self.variadic = attrs.get("variadic", False)  # function
        self.record_id = attrs.get("record_id")  # record: castxml id

    def respelled(self, spelling, extra_name=None):
        copy = CType.__new__(CType)
        copy.__dict__.update(self.__dict__)
        copy.spelling = spelling
        if extra_name and self.kind == "record":
            copy.names = self.names + (extra_name,)
        return copy

    def describe(self):
        """What the type is, in words: 'unsigned 32-bit integer'."""
        if self.kind in ("int", "enum"):
            sign = {True: "signed", False: "unsigned", None: ""}[self.signed]
            what = "integer" if self.kind == "int" else "enum"
            return "{} {}-bit {}".format(sign, self.size * 8, what).strip()
        if self.kind == "pointer":
            return "pointer to " + self.target.describe_short()
        if self.kind == "record":
            if not self.complete:
                return "incomplete struct {}".format(self.tag or "?")
            return "struct {} by value ({} bytes)".format(
                self.tag or "/".join(self.names) or "<anonymous>", self.size
            )
        if self.kind == "array":
            return "array of {} {}".format(self.length, self.target.describe_short())
        if self.kind == "function":
            return "function"
        return self.kind

    def describe_short(self):
        if self.kind == "record":
            return "struct " + (self.tag or "/".join(self.names) or "<anonymous>")
        if self.kind == "pointer":
            return "pointer to " + self.target.describe_short()
        return self.describe()


class Prototype:
    """A function declaration: return type, named parameters, ``...``."""

    def __init__(self, name, ret, params, variadic, location):
        self.name = name
        self.ret = ret
        self.params = params  # [(name, CType)]
        self.variadic = variadic
        self.location = location

    def signature(self):
        parts = ["{} {}".format(t.spelling, n).strip() for n, t in self.params]
        if self.variadic:
            parts.append("...")
        return "{} {}({})".format(self.ret.spelling, self.name, ", ".join(parts) or "void")


def run_castxml(castxml, source, output, include_dirs, cc=None):
    """Run castxml on ``source``; return (ok, stderr text)."""
    cmd = [castxml, "--castxml-output=1"]
    if cc:
        # make castxml's clang copy this compiler's target and predefines
        cmd += ["--castxml-cc-gnu-c", cc]
    for inc in include_dirs:
        cmd += ["-I", inc]
    cmd += ["-o", output, source]
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
        timeout=600,
    )
    return proc.returncode == 0, proc.stdout + proc.stderr


class Declarations:
    """Everything declared in one castxml output file."""

    def __init__(self, xml_path):
        root = ElementTree.parse(xml_path).getroot()
        self._by_id = {}
        self._functions = {}
        self._typedefs = {}
        self._files = {}
        self._records = {}
        for el in root:
            self._by_id[el.get("id")] = el
            if el.tag == "Function":
                self._functions[el.get("name")] = el
            elif el.tag == "Typedef":
                self._typedefs[el.get("name")] = el
            elif el.tag == "File":
                self._files[el.get("id")] = el.get("name")
            elif el.tag in ("Struct", "Union") and el.get("name"):
                self._records[el.get("name")] = el

    def has_function(self, name):
        return name in self._functions

    def function(self, name):
        el = self._functions[name]
        params = []
        variadic = False
        for child in el:
            if child.tag == "Argument":
                params.append((child.get("name") or "", self.type(child.get("type"))))
            elif child.tag == "Ellipsis":
                variadic = True
        location = "{}:{}".format(self._files.get(el.get("file"), "?"), el.get("line"))
        return Prototype(name, self.type(el.get("returns")), params, variadic, location)

    def typedef(self, name):
        el = self._typedefs.get(name)
        return None if el is None else self.type(el.get("id"))

    def record(self, tag):
        """``struct tag`` as a CType, or None."""
        el = self._records.get(tag)
        return None if el is None else self.type(el.get("id"))

    def record_fields(self, record):
        """[(name, CType, offset in bytes)] of a complete record CType."""
        el = self._by_id[record.record_id]
        fields = []
        for member_id in (el.get("members") or "").split():
            member = self._by_id.get(member_id)
            if member is not None and member.tag == "Field":
                offset = int(member.get("offset", "0")) // 8
                fields.append((member.get("name"), self.type(member.get("type")), offset))
        return fields

    def type(self, tid):
        """Resolve castxml type id ``tid`` into a CType."""
        el = self._by_id[tid]
        tag = el.tag
        if tag == "CvQualifiedType":
            inner = self.type(el.get("type"))
            quals = [q for q in ("const", "volatile") if el.get(q) == "1"]
            if not quals:
                return inner
            if inner.kind == "pointer":
                return inner.respelled(inner.spelling + " " + " ".join(quals))
            return inner.respelled(" ".join(quals) + " " + inner.spelling)
        if tag == "Typedef":
            name = el.get("name")
            return self.type(el.get("type")).respelled(name, extra_name=name)
        if tag == "ElaboratedType":
            return self.type(el.get("type"))
        if tag == "FundamentalType":
            return _fundamental(el.get("name"), int(el.get("size")) // 8)
        if tag == "Enumeration":
            signed = any(int(v.get("init")) < 0 for v in el if v.tag == "EnumValue")
            name = el.get("name")
            return CType(
                "enum", "enum " + (name or "<anonymous>"),
                size=int(el.get("size")) // 8, signed=signed,
            )
        if tag == "PointerType":
            target = self.type(el.get("type"))
            if target.kind == "function":
                spelling = "{} (*)({})".format(
                    target.ret.spelling, ", ".join(a.spelling for a in target.args)
                )
            else:
                spelling = target.spelling + " *"
            return CType("pointer", spelling, size=int(el.get("size")) // 8, target=target)
        if tag in ("Struct", "Union"):
            keyword = "struct" if tag == "Struct" else "union"
            name = el.get("name") or ""
            complete = el.get("incomplete") != "1"
            size = int(el.get("size")) // 8 if complete and el.get("size") else None
            return CType(
                "record", "{} {}".format(keyword, name or "<anonymous>"),
                tag=name, names=(name,) if name else (), complete=complete,
                size=size, record_id=tid,
            )
        if tag == "FunctionType":
            args = tuple(self.type(a.get("type")) for a in el if a.tag == "Argument")
            variadic = any(a.tag == "Ellipsis" for a in el)
            return CType(
                "function", "function", ret=self.type(el.get("returns")),
                args=args, variadic=variadic,
            )
        if tag == "ArrayType":
            target = self.type(el.get("type"))
            top = el.get("max", "")
            length = int(top) + 1 if top.lstrip("-").isdigit() else None
            return CType(
                "array", "{}[{}]".format(target.spelling, length if length else ""),
                target=target, length=length,
            )
        return CType("other", tag)


def _fundamental(name, size):
    if name == "void":
        return CType("void", name, size=0)
    if name in ("bool", "_Bool"):
        return CType("bool", name, size=size)
    if name == "char":
        return CType("char", name, size=size)
    if name in ("float", "double", "long double"):
        return CType(name, name, size=size)
    if "int" in name or "char" in name:
        signed = "unsigned" not in name
        return CType("int", name, size=size, signed=signed)
    return CType("other", name, size=size)


# --- ctypes side -----------------------------------------------------------
def is_opaque(py):
    """A ctypes Structure with no fields: stands for an incomplete C struct."""
    return (
        isinstance(py, type)
        and issubclass(py, ctypes.Structure)
        and py is not ctypes.Structure
        and not getattr(py, "_fields_", None)
    )


def py_name(py, names):
    """The table's name for ctypes type ``py`` (``names`` maps type -> name)."""
    if py is None:
        return "None"
    if py in names:
        return names[py]
    if isinstance(py, type) and issubclass(py, ctypes._Pointer):
        return "POINTER({})".format(py_name(py._type_, names))
    return getattr(py, "__name__", repr(py))


def py_describe(py):
    """What the ctypes type is, in the same words as CType.describe()."""
    if py is None:
        return "void"
    if not isinstance(py, type):
        return repr(py)
    if issubclass(py, ctypes._CFuncPtr):
        return "pointer to function"
    if issubclass(py, ctypes._Pointer):
        target = py._type_
        if is_opaque(target):
            return "pointer to opaque " + target.__name__
        return "pointer to " + py_describe(target)
    if issubclass(py, (ctypes.Structure, ctypes.Union)):
        return "struct {} by value ({} bytes)".format(py.__name__, ctypes.sizeof(py))
    if issubclass(py, ctypes.Array):
        return "array of {} {}".format(py._length_, py_describe(py._type_))
    if issubclass(py, ctypes.c_char_p):  # malloced_str too
        return "pointer to char"
    if py is ctypes.c_void_p:
        return "pointer to void"
    if py is ctypes.c_bool:
        return "bool"
    if py is ctypes.c_char:
        return "char"
    if py in (ctypes.c_float, ctypes.c_double, ctypes.c_longdouble):
        return {ctypes.c_float: "float", ctypes.c_double: "double"}.get(py, "long double")
    code = getattr(py, "_type_", None)
    if isinstance(code, str) and code in _SIGNED + _UNSIGNED:
        sign = "signed" if code in _SIGNED else "unsigned"
        return "{} {}-bit integer".format(sign, ctypes.sizeof(py) * 8)
    return py.__name__


def compare(c, py, where, opaque, names):
    """Every way ctypes type ``py`` disagrees with C type ``c``, as messages.

    ``opaque`` maps each field-less ctypes Structure to the C struct tag it
    stands for; ``names`` gives the table's names of ctypes types.
    """
    reason = _mismatch(c, py, opaque)
    if reason is None:
        return _compare_inside(c, py, where, opaque, names)
    return [
        "{}: header has {} ({}), table has {} ({}){}".format(
            where, c.spelling, c.describe(), py_name(py, names), py_describe(py),
            "" if reason is True else ": " + reason,
        )
    ]


def _mismatch(c, py, opaque):
    """None when ``py`` is the same kind of thing as ``c`` at this level,
    else True or a reason string.  Pointees are compared by
    _compare_inside."""
    if py is None:
        return None if c.kind == "void" else True
    if not isinstance(py, type):
        return "not a ctypes type"
    if issubclass(py, ctypes._CFuncPtr):
        if c.kind == "pointer" and c.target.kind == "function":
            return None
        return True
    if issubclass(py, ctypes._Pointer):
        if c.kind != "pointer":
            return True
        target = py._type_
        if is_opaque(target):
            tag = opaque.get(target)
            if tag is None:
                return "the test knows no C struct for opaque {}".format(target.__name__)
            if c.target.kind != "record" or c.target.tag != tag:
                return "expected a pointer to struct " + tag
        return None
    if issubclass(py, (ctypes.Structure, ctypes.Union)):
        if c.kind != "record" or not c.complete:
            return True
        if py.__name__ not in c.names:
            return "different struct (C names: {})".format(", ".join(c.names) or "none")
        if c.size != ctypes.sizeof(py):
            return "size {} in C, {} in ctypes".format(c.size, ctypes.sizeof(py))
        return None
    if issubclass(py, ctypes.Array):
        if c.kind != "array":
            return True
        if c.length != py._length_:
            return "length {} in C, {} in ctypes".format(c.length, py._length_)
        return None
    if issubclass(py, ctypes.c_char_p):
        if c.kind == "pointer" and c.target.kind == "char":
            return None
        return True
    if py is ctypes.c_void_p:
        # a generic pointer: void * (any qualifiers), or a function pointer we
        # only ever pass as NULL
        if c.kind == "pointer" and c.target.kind in ("void", "function"):
            return None
        return True
    if py is ctypes.c_bool:
        return None if c.kind == "bool" else True
    if py is ctypes.c_char:
        return None if c.kind == "char" else True
    if py is ctypes.c_float:
        return None if c.kind == "float" else True
    if py is ctypes.c_double:
        return None if c.kind == "double" else True
    if py is ctypes.c_longdouble:
        return None if c.kind == "long double" else True
    code = getattr(py, "_type_", None)
    if isinstance(code, str) and code in _SIGNED + _UNSIGNED:
        if c.kind not in ("int", "enum"):
            return True
        if c.size != ctypes.sizeof(py):
            return "size {} in C, {} in ctypes".format(c.size, ctypes.sizeof(py))
        # an enum's constants are ints in C, so either signedness passes
        if c.kind == "int" and c.signed != (code in _SIGNED):
            return "signedness differs"
        return None
    return "ctypes type not understood by this test (teach tests/_cdecl.py)"


def _compare_inside(c, py, where, opaque, names):
    """Compare what is inside matching pointers and function pointers."""
    if py is None or not isinstance(py, type):
        return []
    if issubclass(py, ctypes._CFuncPtr):
        fn = c.target
        problems = []
        args = list(py._argtypes_ or ())
        if fn.variadic:
            problems.append("{}: the header's callback type is variadic".format(where))
        if len(args) != len(fn.args):
            problems.append(
                "{}: callback takes {} parameters in the header ({}), {} in the table".format(
                    where, len(fn.args), c.spelling, len(args)
                )
            )
            return problems
        problems += compare(fn.ret, py._restype_, where + " -> callback return", opaque, names)
        for i, (carg, parg) in enumerate(zip(fn.args, args), 1):
            problems += compare(
                carg, parg, "{} -> callback parameter {}".format(where, i), opaque, names
            )
        return problems
    if issubclass(py, ctypes._Pointer) and not is_opaque(py._type_):
        return compare(c.target, py._type_, where + " -> pointee", opaque, names)
    if issubclass(py, ctypes.Array):
        return compare(c.target, py._type_, where + " -> element", opaque, names)
    return []


def promotes_unchanged(py):
    """True when C's default argument promotions leave a value of ctypes
    type ``py`` as it is, so it may be passed through ``...``."""
    if py is None or not isinstance(py, type):
        return False
    if issubclass(py, (ctypes._Pointer, ctypes._CFuncPtr)):
        return True
    if py in (ctypes.c_char_p, ctypes.c_void_p, ctypes.c_double, ctypes.c_longdouble):
        return True
    code = getattr(py, "_type_", None)
    return (
        isinstance(code, str)
        and code in _SIGNED + _UNSIGNED
        and ctypes.sizeof(py) >= ctypes.sizeof(ctypes.c_int)
    )
