//! Derive macros for luigi-rs: `#[derive(Task)]`, `#[derive(Config)]` and
//! `#[derive(ParamEnum)]`, re-exported by `luigi-core` (use them from there).
//!
//! `Task` and `Config` turn a struct with named fields into a parameter container: they
//! implement `luigi_core::TaskParams` (family, parameter declarations, string forms,
//! resolution from strings) and register the type in the task registry through
//! `inventory`, so a binary can build it by family name. The user still implements
//! `luigi_core::Task` by hand for tasks; that is where `requires`, `output` and `run` live.
//! `ParamEnum` makes a fieldless enum usable as a parameter (Luigi's `EnumParameter`).
//!
//! Everything the generated code needs is named through absolute `::luigi_core::` paths,
//! and per-field data is emitted as `'static` tables built once, so the generated code
//! costs nothing per task instance beyond the fields themselves.
//!
//! The attribute grammar is documented on each derive below; unknown keys are compile
//! errors so typos do not silently change task ids.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Error, Expr, ExprLit, Fields, Lit, Meta, Token};

/// Derives `TaskParams` for a task struct and registers it.
///
/// Struct attributes, `#[task(...)]`:
/// - `namespace = "ns"`: the family becomes `ns.StructName`;
/// - `family = "Full.Name"`: the whole family, replacing name and namespace;
/// - `external`: Luigi's `ExternalTask` (never run, complete iff outputs exist);
/// - `wrapper`: Luigi's `WrapperTask` (complete iff all requirements are complete).
///
/// Field attributes, `#[param(...)]` (the field's doc comment is its description):
/// - `name = "..."`: the parameter name when it differs from the field name (a Python name
///   that is not a Rust identifier, such as `_`);
/// - `default = expr`: a string literal is parsed with the field type's string form
///   (`default = "2024-01-01"`), any other expression is a value of the field type;
/// - `significant = false`, `visibility = "hidden" | "private" | "public"`,
///   `positional = false`, `description = "..."`, `always_in_help`;
/// - `batch_method = "max" | "min" | "join" | "first" | "last"` or a path to a
///   `fn(Vec<T>) -> T`;
/// - type options: `interval = N`, `start = "..."`, `explicit` (bool), `absolute`,
///   `exists` (paths), `choices = ["a", "b"]`, `min = N`, `max = N`, `min_exclusive`,
///   `max_inclusive`;
/// - `config_path = "section.option"`: a deprecated extra config location.
#[proc_macro_derive(Task, attributes(task, param))]
pub fn derive_task(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand_params(&input, Mode::Task).unwrap_or_else(Error::into_compile_error).into()
}

/// Derives `TaskParams` for a config section (Luigi's `luigi.Config`) and registers it.
///
/// Struct attributes, `#[config(...)]`: `section = "name"` (default: the struct name),
/// `namespace = "ns"`, and `no_cmdline_section` (flags are `--param` rather than
/// `--section-param`, like Luigi's `core`). Field attributes as for `#[derive(Task)]`.
#[proc_macro_derive(Config, attributes(config, param))]
pub fn derive_config(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand_params(&input, Mode::Config).unwrap_or_else(Error::into_compile_error).into()
}

/// Derives `ParamValue` for a fieldless enum, whose variants are written by name (Luigi's
/// `EnumParameter`).
///
/// `#[param(rename_all = "lowercase" | "UPPERCASE" | "snake_case")]` on the enum and
/// `#[param(name = "...")]` on a variant choose the names.
#[proc_macro_derive(ParamEnum, attributes(param))]
pub fn derive_param_enum(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand_enum(&input).unwrap_or_else(Error::into_compile_error).into()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Task,
    Config,
}

/// The struct-level settings.
#[derive(Default)]
struct TypeAttrs {
    namespace: Option<String>,
    family: Option<String>,
    external: bool,
    wrapper: bool,
    no_cmdline_section: bool,
}

/// One field's settings.
struct FieldAttrs {
    name: Option<String>,
    default: Option<Expr>,
    significant: bool,
    visibility: TokenStream2,
    positional: bool,
    description: Option<String>,
    always_in_help: bool,
    batch_method: Option<Expr>,
    interval: Option<Expr>,
    start: Option<String>,
    explicit: bool,
    absolute: bool,
    exists: bool,
    choices: Option<Vec<String>>,
    min: Option<Expr>,
    max: Option<Expr>,
    min_inclusive: bool,
    max_inclusive: bool,
    config_path: Option<(String, String)>,
}

fn nested_metas(attr: &Attribute) -> syn::Result<Punctuated<Meta, Token![,]>> {
    attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
}

fn meta_name(meta: &Meta) -> String {
    meta.path().get_ident().map(ToString::to_string).unwrap_or_default()
}

fn value_expr(meta: &Meta) -> syn::Result<&Expr> {
    match meta {
        Meta::NameValue(nv) => Ok(&nv.value),
        _ => Err(Error::new(meta.span(), format!("`{}` needs a value: `{} = ...`", meta_name(meta), meta_name(meta)))),
    }
}

fn lit_str(meta: &Meta) -> syn::Result<String> {
    match value_expr(meta)? {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => Ok(text.value()),
        other => Err(Error::new(other.span(), format!("`{}` takes a string literal", meta_name(meta)))),
    }
}

fn lit_bool(meta: &Meta) -> syn::Result<bool> {
    match meta {
        Meta::Path(_) => Ok(true),
        _ => match value_expr(meta)? {
            Expr::Lit(ExprLit { lit: Lit::Bool(flag), .. }) => Ok(flag.value),
            other => Err(Error::new(other.span(), format!("`{}` takes `true` or `false`", meta_name(meta)))),
        },
    }
}

fn parse_type_attrs(input: &DeriveInput, mode: Mode) -> syn::Result<TypeAttrs> {
    let wanted = match mode {
        Mode::Task => "task",
        Mode::Config => "config",
    };
    let mut attrs = TypeAttrs::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident(wanted)) {
        for meta in nested_metas(attr)? {
            match (mode, meta_name(&meta).as_str()) {
                (_, "namespace") => attrs.namespace = Some(lit_str(&meta)?),
                (Mode::Task, "family") | (Mode::Config, "section") => attrs.family = Some(lit_str(&meta)?),
                (Mode::Task, "external") => attrs.external = lit_bool(&meta)?,
                (Mode::Task, "wrapper") => attrs.wrapper = lit_bool(&meta)?,
                (Mode::Config, "no_cmdline_section") => attrs.no_cmdline_section = lit_bool(&meta)?,
                (_, other) => {
                    let known = match mode {
                        Mode::Task => "namespace, family, external, wrapper",
                        Mode::Config => "section, namespace, no_cmdline_section",
                    };
                    return Err(Error::new(
                        meta.span(),
                        format!("unknown #[{wanted}] option `{other}`; known options: {known}"),
                    ));
                }
            }
        }
    }
    if attrs.external && attrs.wrapper {
        return Err(Error::new(Span::call_site(), "a task cannot be both `external` and `wrapper`"));
    }
    Ok(attrs)
}

fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => Some(text.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join(" ").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn parse_field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut attrs = FieldAttrs {
        name: None,
        default: None,
        significant: true,
        visibility: quote!(Public),
        positional: true,
        description: None,
        always_in_help: false,
        batch_method: None,
        interval: None,
        start: None,
        explicit: false,
        absolute: false,
        exists: false,
        choices: None,
        min: None,
        max: None,
        min_inclusive: true,
        max_inclusive: false,
        config_path: None,
    };
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("param")) {
        for meta in nested_metas(attr)? {
            match meta_name(&meta).as_str() {
                "name" => attrs.name = Some(lit_str(&meta)?),
                "default" => attrs.default = Some(value_expr(&meta)?.clone()),
                "significant" => attrs.significant = lit_bool(&meta)?,
                "insignificant" => attrs.significant = !lit_bool(&meta)?,
                "visibility" => {
                    attrs.visibility = match lit_str(&meta)?.as_str() {
                        "public" => quote!(Public),
                        "hidden" => quote!(Hidden),
                        "private" => quote!(Private),
                        other => {
                            return Err(Error::new(
                                meta.span(),
                                format!("unknown visibility `{other}`; use \"public\", \"hidden\" or \"private\""),
                            ));
                        }
                    }
                }
                "hidden" if lit_bool(&meta)? => attrs.visibility = quote!(Hidden),
                "private" if lit_bool(&meta)? => attrs.visibility = quote!(Private),
                "positional" => attrs.positional = lit_bool(&meta)?,
                "description" => attrs.description = Some(lit_str(&meta)?),
                "always_in_help" => attrs.always_in_help = lit_bool(&meta)?,
                "batch_method" => attrs.batch_method = Some(value_expr(&meta)?.clone()),
                "interval" => attrs.interval = Some(value_expr(&meta)?.clone()),
                "start" => attrs.start = Some(lit_str(&meta)?),
                "explicit" => attrs.explicit = lit_bool(&meta)?,
                "absolute" => attrs.absolute = lit_bool(&meta)?,
                "exists" => attrs.exists = lit_bool(&meta)?,
                "choices" => {
                    let Expr::Array(array) = value_expr(&meta)? else {
                        return Err(Error::new(meta.span(), "`choices` takes an array of string literals"));
                    };
                    let mut choices = Vec::new();
                    for elem in &array.elems {
                        match elem {
                            Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => choices.push(text.value()),
                            other => return Err(Error::new(other.span(), "`choices` takes string literals")),
                        }
                    }
                    attrs.choices = Some(choices);
                }
                "min" => attrs.min = Some(value_expr(&meta)?.clone()),
                "max" => attrs.max = Some(value_expr(&meta)?.clone()),
                "min_exclusive" => attrs.min_inclusive = !lit_bool(&meta)?,
                "max_inclusive" => attrs.max_inclusive = lit_bool(&meta)?,
                "config_path" => {
                    let path = lit_str(&meta)?;
                    let Some((section, option)) = path.split_once('.') else {
                        return Err(Error::new(meta.span(), "`config_path` is \"section.option\""));
                    };
                    attrs.config_path = Some((section.to_owned(), option.to_owned()));
                }
                other => {
                    return Err(Error::new(
                        meta.span(),
                        format!(
                            "unknown #[param] option `{other}`; known options: name, default, significant, insignificant, \
                             visibility, hidden, private, positional, description, always_in_help, batch_method, \
                             interval, start, explicit, absolute, exists, choices, min, max, min_exclusive, \
                             max_inclusive, config_path"
                        ),
                    ));
                }
            }
        }
    }
    if attrs.description.is_none() {
        attrs.description = doc_comment(&field.attrs);
    }
    Ok(attrs)
}

fn option_tokens<T: quote::ToTokens>(value: Option<T>) -> TokenStream2 {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

fn expand_params(input: &DeriveInput, mode: Mode) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            "tasks and config sections cannot be generic: the registry needs one concrete type per family",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(Span::call_site(), "only structs with named fields can be tasks or config sections"));
    };
    let fields: Vec<&syn::Field> = match &data.fields {
        Fields::Named(named) => named.named.iter().collect(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(_) => {
            return Err(Error::new(data.fields.span(), "parameters are named: use a struct with named fields"));
        }
    };
    let type_attrs = parse_type_attrs(input, mode)?;
    let family = match (&type_attrs.family, &type_attrs.namespace) {
        (Some(family), _) if mode == Mode::Task => family.clone(),
        (family, namespace) => {
            let name = family.clone().unwrap_or_else(|| ident.to_string());
            match namespace {
                Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
                _ => name,
            }
        }
    };
    let kind = match (mode, type_attrs.external, type_attrs.wrapper) {
        (Mode::Config, _, _) => quote!(Config),
        (Mode::Task, true, _) => quote!(External),
        (Mode::Task, _, true) => quote!(Wrapper),
        (Mode::Task, false, false) => quote!(Regular),
    };

    let mut infos = Vec::new();
    let mut serializers = Vec::new();
    let mut resolvers = Vec::new();
    let mut normalizers = Vec::new();
    let mut batch_arms = Vec::new();
    for (idx, field) in fields.iter().enumerate() {
        let attrs = parse_field_attrs(field)?;
        let name = field.ident.as_ref().expect("named field");
        let name_str = match &attrs.name {
            Some(renamed) => renamed.clone(),
            None => {
                let ident = name.to_string();
                ident.strip_prefix("r#").unwrap_or(&ident).to_owned()
            }
        };
        let ty = &field.ty;
        let value_trait = quote!(::luigi_core::param::ParamValue);

        let interval = option_tokens(attrs.interval.as_ref().map(|e| quote!((#e) as i64)));
        let start = option_tokens(attrs.start.as_ref());
        let choices = option_tokens(attrs.choices.as_ref().map(|c| quote!(&[#(#c),*])));
        let min = option_tokens(attrs.min.as_ref().map(|e| quote!((#e) as f64)));
        let max = option_tokens(attrs.max.as_ref().map(|e| quote!((#e) as f64)));
        let (explicit, absolute, exists, min_inclusive, max_inclusive) =
            (attrs.explicit, attrs.absolute, attrs.exists, attrs.min_inclusive, attrs.max_inclusive);
        let options = quote! {
            ::luigi_core::param::ParamOptions {
                interval: #interval,
                start: #start,
                explicit: #explicit,
                absolute: #absolute,
                exists: #exists,
                choices: #choices,
                min: #min,
                max: #max,
                min_inclusive: #min_inclusive,
                max_inclusive: #max_inclusive,
            }
        };
        let options_const = format_ident!("__LUIGI_OPTIONS_{}", idx);

        // The default as a `fn() -> Result<T, ParseError>`.
        let default_fn = attrs.default.as_ref().map(|expr| match expr {
            Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => quote! {
                (|| <#ty as #value_trait>::parse(#text, &#options_const)) as fn() -> ::core::result::Result<#ty, ::luigi_core::param::ParseError>
            },
            other => quote! {
                (|| ::core::result::Result::Ok({ let value: #ty = #other; value })) as fn() -> ::core::result::Result<#ty, ::luigi_core::param::ParseError>
            },
        });
        let default_display = match &default_fn {
            Some(default_fn) => quote! {
                ::core::option::Option::Some((|| match (#default_fn)() {
                    ::core::result::Result::Ok(value) => <#ty as #value_trait>::serialize(&value),
                    ::core::result::Result::Err(err) => ::std::format!("<invalid default: {}>", err),
                }) as fn() -> ::std::string::String)
            },
            None => quote! {
                match <#ty as #value_trait>::implicit_default() {
                    ::core::option::Option::Some(_) => ::core::option::Option::Some((|| match <#ty as #value_trait>::implicit_default() {
                        ::core::option::Option::Some(value) => <#ty as #value_trait>::serialize(&value),
                        ::core::option::Option::None => ::std::string::String::new(),
                    }) as fn() -> ::std::string::String),
                    ::core::option::Option::None => ::core::option::Option::None,
                }
            },
        };
        let description = option_tokens(attrs.description.as_ref());
        let significant = attrs.significant;
        let visibility = &attrs.visibility;
        let positional = attrs.positional;
        let always_in_help = attrs.always_in_help;
        let batchable = attrs.batch_method.is_some();
        let config_path = option_tokens(attrs.config_path.as_ref().map(|(s, o)| quote!((#s, #o))));
        infos.push(quote! {
            {
                const #options_const: ::luigi_core::param::ParamOptions = #options;
                ::luigi_core::param::ParamInfo {
                    name: #name_str,
                    type_name: <#ty as #value_trait>::TYPE_NAME,
                    description: #description,
                    significant: #significant,
                    visibility: ::luigi_core::param::Visibility::#visibility,
                    positional: #positional,
                    batchable: #batchable,
                    always_in_help: #always_in_help,
                    cli: <#ty as #value_trait>::cli_kind(&#options_const),
                    options: #options_const,
                    config_path: #config_path,
                    default: #default_display,
                    next_in_enumeration: ::luigi_core::param::next_serialized::<#ty>,
                }
            }
        });
        serializers.push(quote!(<#ty as #value_trait>::serialize(&self.#name)));
        let resolve_default = match &default_fn {
            Some(default_fn) => quote!(::core::option::Option::Some(#default_fn)),
            None => quote!(::core::option::Option::None),
        };
        let options_ref = quote!(&<Self as ::luigi_core::task::TaskParams>::param_infos()[#idx].options);
        let resolve_options_const = quote! {
            #[allow(non_upper_case_globals, dead_code)]
            const #options_const: ::luigi_core::param::ParamOptions = #options;
        };
        resolvers.push(quote! {
            #name: {
                #resolve_options_const
                resolver.value::<#ty>(#idx, #resolve_default)?
            }
        });
        normalizers.push(quote! {
            #name: <#ty as #value_trait>::normalize(self.#name, #options_ref)?
        });
        if let Some(method) = &attrs.batch_method {
            let method_fn = match method {
                Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => match text.value().as_str() {
                    known @ ("max" | "min" | "join" | "first" | "last") => {
                        let ident = format_ident!("{}", known);
                        quote!(::luigi_core::param::batch::#ident)
                    }
                    other => {
                        return Err(Error::new(
                            text.span(),
                            format!(
                                "unknown batch method \"{other}\"; use \"max\", \"min\", \"join\", \"first\", \"last\" or a path to a function"
                            ),
                        ));
                    }
                },
                other => quote!(#other),
            };
            batch_arms.push(quote! {
                #name_str => {
                    let options = #options_ref;
                    let mut parsed: ::std::vec::Vec<#ty> = ::std::vec::Vec::with_capacity(values.len());
                    for value in values {
                        parsed.push(<#ty as #value_trait>::parse(value, options)?);
                    }
                    if parsed.is_empty() {
                        return ::core::result::Result::Err(::luigi_core::param::ParseError::new(
                            ::std::format!("no values to batch for parameter '{}'", #name_str),
                        ));
                    }
                    let method: fn(::std::vec::Vec<#ty>) -> #ty = #method_fn;
                    ::core::result::Result::Ok(<#ty as #value_trait>::serialize(&method(parsed)))
                }
            });
        }
    }

    let construct =
        if matches!(data.fields, Fields::Unit) { quote!(#ident) } else { quote!(#ident { #(#resolvers),* }) };
    let normalized =
        if matches!(data.fields, Fields::Unit) { quote!(#ident) } else { quote!(#ident { #(#normalizers),* }) };
    let use_cmdline_section = !type_attrs.no_cmdline_section;
    let registration = match mode {
        Mode::Task => quote!(::luigi_core::registry::Registration::task::<#ident>()),
        Mode::Config => quote!(::luigi_core::registry::Registration::config::<#ident>()),
    };

    Ok(quote! {
        impl ::luigi_core::task::TaskParams for #ident {
            fn family() -> &'static str {
                #family
            }

            fn module() -> &'static str {
                ::core::module_path!()
            }

            fn kind() -> ::luigi_core::task::TaskKind {
                ::luigi_core::task::TaskKind::#kind
            }

            fn param_infos() -> &'static [::luigi_core::param::ParamInfo] {
                static INFOS: ::luigi_core::__private::LazyLock<::std::vec::Vec<::luigi_core::param::ParamInfo>> =
                    ::luigi_core::__private::LazyLock::new(|| ::std::vec![#(#infos),*]);
                &INFOS
            }

            fn serialize_params(&self) -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![#(#serializers),*]
            }

            #[allow(unused_variables)]
            fn from_args(
                ctx: &::luigi_core::param::ParamContext,
                args: &::luigi_core::param::ParamArgs,
            ) -> ::core::result::Result<Self, ::luigi_core::param::Error> {
                let resolver = ::luigi_core::param::Resolver::new(
                    <Self as ::luigi_core::task::TaskParams>::family(),
                    <Self as ::luigi_core::task::TaskParams>::param_infos(),
                    ctx,
                    args,
                )?;
                ::core::result::Result::Ok(#construct)
            }

            fn normalized(self) -> ::core::result::Result<Self, ::luigi_core::param::ParseError> {
                ::core::result::Result::Ok(#normalized)
            }

            #[allow(unused_variables)]
            fn reduce_batch(
                param: &str,
                values: &[::std::string::String],
            ) -> ::core::result::Result<::std::string::String, ::luigi_core::param::ParseError> {
                match param {
                    #(#batch_arms)*
                    _ => ::core::result::Result::Err(::luigi_core::param::ParseError::new(::std::format!(
                        "parameter '{}' of {} has no batch method",
                        param,
                        <Self as ::luigi_core::task::TaskParams>::family(),
                    ))),
                }
            }

            fn use_cmdline_section() -> bool {
                #use_cmdline_section
            }
        }

        ::luigi_core::__private::inventory::submit! { #registration }
    })
}

fn expand_enum(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let Data::Enum(data) = &input.data else {
        return Err(Error::new(Span::call_site(), "ParamEnum is for enums whose variants have no fields"));
    };
    let mut rename_all: Option<String> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("param")) {
        for meta in nested_metas(attr)? {
            match meta_name(&meta).as_str() {
                "rename_all" => rename_all = Some(lit_str(&meta)?),
                other => {
                    return Err(Error::new(
                        meta.span(),
                        format!("unknown #[param] option `{other}` on an enum; known: rename_all"),
                    ));
                }
            }
        }
    }
    let mut variants = Vec::new();
    let mut names = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(Error::new(variant.span(), "ParamEnum variants cannot have fields"));
        }
        let mut name = None;
        for attr in variant.attrs.iter().filter(|a| a.path().is_ident("param")) {
            for meta in nested_metas(attr)? {
                match meta_name(&meta).as_str() {
                    "name" => name = Some(lit_str(&meta)?),
                    other => {
                        return Err(Error::new(
                            meta.span(),
                            format!("unknown #[param] option `{other}` on a variant; known: name"),
                        ));
                    }
                }
            }
        }
        let original = variant.ident.to_string();
        let name = match (name, rename_all.as_deref()) {
            (Some(name), _) => name,
            (None, None) => original,
            (None, Some("lowercase")) => original.to_lowercase(),
            (None, Some("UPPERCASE")) => original.to_uppercase(),
            (None, Some("snake_case")) => snake_case(&original),
            (None, Some(other)) => {
                return Err(Error::new(
                    Span::call_site(),
                    format!("unknown rename_all `{other}`; use \"lowercase\", \"UPPERCASE\" or \"snake_case\""),
                ));
            }
        };
        variants.push(&variant.ident);
        names.push(name);
    }
    let type_name = ident.to_string();
    let joined = names.join(", ");
    Ok(quote! {
        impl ::luigi_core::param::ParamValue for #ident {
            const TYPE_NAME: &'static str = "enum";

            fn parse(text: &str, _options: &::luigi_core::param::ParamOptions) -> ::core::result::Result<Self, ::luigi_core::param::ParseError> {
                match text {
                    #(#names => ::core::result::Result::Ok(#ident::#variants),)*
                    other => ::core::result::Result::Err(::luigi_core::param::ParseError::new(::std::format!(
                        "'{}' is not a valid {}; choose one of {}", other, #type_name, #joined,
                    ))),
                }
            }

            fn serialize(&self) -> ::std::string::String {
                match self {
                    #(#ident::#variants => ::std::string::String::from(#names),)*
                }
            }

            fn describe_options(_options: &::luigi_core::param::ParamOptions) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(::std::format!("Choices: {{{}}}", #joined))
            }
        }

        impl ::luigi_core::param::EnumNames for #ident {
            const NAMES: &'static [&'static str] = &[#(#names),*];
        }
    })
}

fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (idx, ch) in name.chars().enumerate() {
        if ch.is_uppercase() {
            if idx > 0 {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}
